"""Date fields: only where the feed mapping says a field is a date, never guessed.

Dates are built from year/month/day columns with numpy month arithmetic (no date objects)
and validated by round-trip: a day that overflows its month is invalid, not rolled over.
"""

from __future__ import annotations

import numpy as np

DATE_FORMATS = ("YYYYMMDD", "CYYMMDD", "YYMMDD", "YYYYDDD")


def digits_to_date(
    value: np.ndarray, fmt: str, pivot: int = 50
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """int64 digit values → (date32 day numbers, is-null mask, bad mask). Zero means no date."""
    v = value.astype(np.int64)
    empty = v == 0
    if fmt == "YYYYDDD":
        year = v // 1000
        doy = v % 1000
        start = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]")
        days = start + (doy - 1).astype("timedelta64[D]")
        leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
        bad = (doy < 1) | (doy > 365 + leap) | (year < 1)
        return days.astype(np.int64).astype(np.int32), empty, bad & ~empty
    if fmt == "YYYYMMDD":
        year = v // 10000
    elif fmt == "CYYMMDD":
        year = 1900 + 100 * (v // 1000000) + (v // 10000) % 100
    elif fmt == "YYMMDD":
        yy = (v // 10000) % 100
        year = np.where(yy < pivot, 2000 + yy, 1900 + yy)
    else:
        raise ValueError(f"unknown date format {fmt!r}; known: {', '.join(DATE_FORMATS)}")
    month = (v // 100) % 100
    day = v % 100
    bad = (month < 1) | (month > 12) | (day < 1) | (day > 31) | (year < 1)
    if fmt == "CYYMMDD":
        bad |= v // 1000000 > 9
    months = ((year - 1970) * 12 + np.clip(month, 1, 12) - 1).astype("datetime64[M]")
    days = months.astype("datetime64[D]") + (np.clip(day, 1, 31) - 1).astype("timedelta64[D]")
    bad |= days.astype("datetime64[M]") != months  # 31 February and friends
    return days.astype(np.int64).astype(np.int32), empty, bad & ~empty
