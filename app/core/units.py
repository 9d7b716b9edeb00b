"""Sizes for people: one formatter for bytes, in decimal units (1 GB = 10⁹ bytes) as the README, disk makers and
Hugging Face use, so a file's size reads the same in the Models tab, the Chat picker, `hearth models list` and an
error message."""

from __future__ import annotations

_UNITS = ("KB", "MB", "GB", "TB")


def format_bytes(n: float) -> str:
    """`n` bytes with three significant digits: '512 B', '1.95 MB', '241 MB', '24.1 GB', '4.92 GB'.

    Decimal prefixes (SI: kB = 1000 B; written KB as elsewhere in Hearth). Negative sizes keep their sign."""
    value = float(n)
    if abs(value) < 1000:
        return f"{value:.0f} B"
    for unit in _UNITS:
        value /= 1000
        if abs(value) < 999.5 or unit == _UNITS[-1]:
            digits = 2 if abs(value) < 9.995 else 1 if abs(value) < 99.95 else 0
            return f"{value:.{digits}f} {unit}"
    raise AssertionError("unreachable")
