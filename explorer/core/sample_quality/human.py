"""The human real-vs-fake test (HYPE∞-style, Zhou et al. 2019), without a window: sequence, answers, error rate."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from explorer.core.sample_quality.metrics import SampleQualityError, wilson_interval


@dataclass
class HumanTest:
    """A seeded, shuffled sequence of real and generated images, and the answers given so far.

    Make one with `HumanTest.new`; show trial ``t`` as real image ``index[t]`` when
    ``is_real[t]`` else generated image ``index[t]``; record the user's answer with `answer`.

    Attributes
    ----------
    seed : int
    is_real : list of bool
        Truth of each trial.
    index : list of int
        Index into the real (or generated) images shown at each trial.
    answers : list of bool or None
        ``True`` = the user said "real", ``False`` = "fake", ``None`` = not yet answered.
    model : str
        The model whose samples are shown.
    """

    seed: int
    is_real: list[bool]
    index: list[int]
    answers: list[bool | None] = field(default_factory=list)
    model: str = ""

    @classmethod
    def new(cls, n_real: int, n_fake: int, n_trials: int = 100, seed: int = 0, model: str = "") -> HumanTest:
        """Half real, half generated trials (without repetition), in a seeded random order.

        Parameters
        ----------
        n_real, n_fake : int
            How many real and generated images there are to choose from.
        n_trials : int
            Even number of trials; half real, half fake.
        seed : int
            Seeds the choice and the order (numpy ``default_rng``).
        model : str

        Raises
        ------
        SampleQualityError
            An odd or non-positive ``n_trials``, or fewer images than half of it.
        """
        if n_trials < 2 or n_trials % 2:
            raise SampleQualityError(f"the human test needs an even number of trials ≥ 2, got {n_trials}.")
        half = n_trials // 2
        if n_real < half or n_fake < half:
            raise SampleQualityError(
                f"{n_trials} trials need {half} real and {half} generated images; have {n_real} and {n_fake}.")
        rng = np.random.default_rng(seed)
        real = rng.choice(n_real, half, replace=False)
        fake = rng.choice(n_fake, half, replace=False)
        truth = np.array([True] * half + [False] * half)
        idx = np.concatenate([real, fake])
        order = rng.permutation(n_trials)
        return cls(int(seed), truth[order].tolist(), idx[order].astype(int).tolist(), [None] * n_trials, model)

    def __len__(self) -> int:
        return len(self.is_real)

    @property
    def next_trial(self) -> int | None:
        """The first unanswered trial, or None when all are answered."""
        for t, a in enumerate(self.answers):
            if a is None:
                return t
        return None

    def answer(self, trial: int, says_real: bool) -> None:
        """Record that the user called trial ``trial`` real (True) or fake (False)."""
        if not 0 <= trial < len(self):
            raise SampleQualityError(f"trial {trial} does not exist (0 to {len(self) - 1}).")
        self.answers[trial] = bool(says_real)

    def result(self) -> dict:
        """The human error rate over the answered trials, with its Wilson 95 % interval and the counts.

        Returns
        -------
        dict
            ``model``, ``n_trials``, ``n_answered``, ``n_errors``, ``error_rate`` (fraction; 0.5 means
            people cannot tell real from generated), ``ci95`` ([low, high], Wilson score interval;
            None before any answer), ``fake_called_real``, ``real_called_fake``, ``n_real_answered``,
            ``n_fake_answered``, ``seed``.
        """
        pairs = [(r, a) for r, a in zip(self.is_real, self.answers, strict=True) if a is not None]
        n = len(pairs)
        fake_real = sum(1 for r, a in pairs if not r and a)
        real_fake = sum(1 for r, a in pairs if r and not a)
        errors = fake_real + real_fake
        return {"model": self.model, "n_trials": len(self), "n_answered": n, "n_errors": errors,
                "error_rate": errors / n if n else None,
                "ci95": list(wilson_interval(errors, n)) if n else None,
                "fake_called_real": fake_real, "real_called_fake": real_fake,
                "n_real_answered": sum(1 for r, _ in pairs if r), "n_fake_answered": sum(1 for r, _ in pairs if not r),
                "seed": self.seed}

    def to_dict(self) -> dict:
        """Plain JSON for the session file."""
        return {"seed": self.seed, "is_real": list(self.is_real), "index": list(self.index),
                "answers": list(self.answers), "model": self.model}

    @classmethod
    def from_dict(cls, d: dict) -> HumanTest:
        """Inverse of `to_dict`.

        Raises
        ------
        SampleQualityError
            Lists of different lengths.
        """
        t = cls(int(d["seed"]), [bool(x) for x in d["is_real"]], [int(x) for x in d["index"]],
                [None if a is None else bool(a) for a in d["answers"]], str(d.get("model", "")))
        if not len(t.is_real) == len(t.index) == len(t.answers):
            raise SampleQualityError("the saved human test has lists of different lengths; run the test again.")
        return t
