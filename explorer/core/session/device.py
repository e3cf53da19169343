"""Where the session's models compute: the device choice (``auto``, ``cpu``, ``cuda[:N]``, ``mps``)."""

from __future__ import annotations

__all__ = ["DeviceChoice"]


class DeviceChoice:
    """The ``device`` attribute and `set_device` of :class:`~explorer.core.session.Session` (a mixin)."""

    #: Where models opened from now on compute: a ``--device`` name (``"auto"``, ``"cpu"``, ``"cuda:0"``
    #: ...) resolved when a model opens, or None (the CPU); `set_device`.
    device: str | None = None

    def set_device(self, name: str | None, check: bool = True) -> str:
        """Choose where models opened from now on compute: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.

        Models already open stay where they are (reopen one to move it). Cached codes and
        embeddings are keyed without the device: a GPU's kernels can differ from the CPU's in
        the last float bits, so a cache filled on one device is reused on another as it is.

        Parameters
        ----------
        name : str or None
            As ``--device`` (`explorer.core.device.resolve_device`); None is ``cpu``.
        check : bool
            Resolve the name now (imports torch) and refuse a missing device; False keeps the
            name only (a window restoring its preferences before torch is loaded) and it is
            resolved when a model opens — a missing device then fails that opening with the
            same sentence.

        Returns
        -------
        str
            With ``check``, the device it resolves to here (``"auto"`` → ``"cpu"`` on a machine
            without an accelerator); else the name.

        Raises
        ------
        explorer.core.device.DeviceError
            One sentence when the device is not available here (the choice is left as it was).
        """
        text = "cpu" if name is None else str(name).strip().lower()
        resolved = text
        if check:
            from explorer.core.device import resolve_device

            resolved = str(resolve_device(text))
        self.device = text
        return resolved

