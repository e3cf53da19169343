"""Bounds on what untrusted sizes (file headers, configs, arguments) may make the program allocate."""

from __future__ import annotations

import math
import os

__all__ = ["MEMORY_ENV_VAR", "MAX_LATENT_DIM", "MAX_IMAGE_VALUES", "available_memory", "format_bytes",
           "memory_shortfall", "MAX_FILE_NUMBER", "finite_number", "MAX_DIRECTIONS"]

#: Environment variable capping the memory (bytes, or with a K/M/G suffix) a single read may take;
#: lower than the machine's available memory it wins (tests use it; so can a shared server).
MEMORY_ENV_VAR = "LATENT_EXPLORER_MEMORY_LIMIT"
#: Largest latent dimension d a model may declare (a code of 2**20 float32 numbers is 4 MiB).
MAX_LATENT_DIM = 2**20
#: Largest number of values C·H·W of one image a model may declare (2**26 float32 values is 256 MiB).
MAX_IMAGE_VALUES = 2**26

#: Most latent directions (GANSpace, SeFa, attribute vectors) one slider panel or traversal shows.
MAX_DIRECTIONS = 64

_SUFFIXES = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def _parse_bytes(text: str) -> int | None:
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    factor = _SUFFIXES.get(text[-1:], 1) if text else 1
    number = text[:-1] if text[-1:] in _SUFFIXES else text
    try:
        value = float(number) * factor
    except ValueError:
        return None
    return int(value) if value == value and 0 < value < 2**63 else None


def _machine_available() -> int | None:
    """``MemAvailable`` of /proc/meminfo (Linux), else free physical pages × page size, else None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return None


def available_memory() -> int:
    """Bytes one allocation may take: the machine's available memory, capped by `MEMORY_ENV_VAR`.

    Returns
    -------
    int
        ``MemAvailable`` from ``/proc/meminfo`` (or ``sysconf`` free pages), or the value of
        ``$LATENT_EXPLORER_MEMORY_LIMIT`` when that is set and smaller; 2**62 when neither is known.
    """
    found = [v for v in (_machine_available(), _parse_bytes(os.environ.get(MEMORY_ENV_VAR, "") or "0"))
             if v]
    return min(found) if found else 2**62


def format_bytes(n: float) -> str:
    """``n`` bytes as a short text in binary units (e.g. ``"1.5 TiB"``, ``"512 bytes"``)."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"


def memory_shortfall(nbytes: int, available: int | None = None) -> str | None:
    """Why ``nbytes`` cannot be allocated, as a phrase, or None when it fits.

    Parameters
    ----------
    nbytes : int
        Bytes the caller is about to allocate (from a header, a config or an argument).
    available : int, optional
        Bytes allowed; default `available_memory`.

    Returns
    -------
    str or None
        E.g. ``"13.0 GiB, more than the 7.2 GiB of memory available"``; None if it fits.
    """
    limit = available_memory() if available is None else int(available)
    if nbytes <= limit:
        return None
    return f"{format_bytes(nbytes)}, more than the {format_bytes(limit)} of memory available"


#: Largest magnitude a number read from a session file may have (beyond it float32 overflows).
MAX_FILE_NUMBER = 1e30


def finite_number(v) -> bool:
    """``v`` is a JSON number (int or float, not bool) of magnitude at most `MAX_FILE_NUMBER`.

    A huge integer (``10**400``) is refused without converting it (which would overflow).
    """
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    if isinstance(v, int):
        return -MAX_FILE_NUMBER <= v <= MAX_FILE_NUMBER
    return math.isfinite(v) and abs(v) <= MAX_FILE_NUMBER
