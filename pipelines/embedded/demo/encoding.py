"""Vectorised *encoders* for legacy field formats: the demo generator writes files with these.

They mirror `pipelines.decoding` and are kept apart from it so the decoder's tests can check
it against data produced independently (here, and in the Cobrix conformance files).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipelines.decoding.fields.codepages import codec_name, space_byte


def packed(values: np.ndarray, nbytes: int, signed: bool = True) -> np.ndarray:
    """int64 unscaled values → (n, nbytes) COMP-3 bytes; sign C/D, or F when unsigned."""
    v = np.asarray(values, dtype=np.int64)
    mag = np.abs(v)
    ndigits = 2 * nbytes - 1
    if (mag >= 10**ndigits).any():
        raise ValueError(f"value does not fit {ndigits} packed digits")
    digits = np.empty((len(v), ndigits + 1), dtype=np.uint8)
    for i in range(ndigits - 1, -1, -1):
        digits[:, i] = mag % 10
        mag = mag // 10
    digits[:, ndigits] = np.where(v < 0, 0xD, 0xC) if signed else 0xF
    return (digits[:, 0::2] << 4) | digits[:, 1::2]


def zoned(values: np.ndarray, width: int, signed: bool = False) -> np.ndarray:
    """int64 values → (n, width) EBCDIC zoned bytes; overpunch C/D on the last byte if signed."""
    v = np.asarray(values, dtype=np.int64)
    mag = np.abs(v)
    out = np.empty((len(v), width), dtype=np.uint8)
    for i in range(width - 1, -1, -1):
        out[:, i] = 0xF0 | (mag % 10)
        mag = mag // 10
    if signed:
        out[:, -1] = np.where(v < 0, 0xD0, 0xC0) | (out[:, -1] & 0x0F)
    return out


def binary(values: np.ndarray, width: int, signed: bool = True) -> np.ndarray:
    dtype = np.dtype(f">{'i' if signed else 'u'}{width}")
    return np.asarray(values).astype(dtype).view(np.uint8).reshape(-1, width)


def text(values: Sequence[str], width: int, codepage: str) -> np.ndarray:
    """Strings → (n, width) bytes, space-padded, truncated to width characters."""
    codec = codec_name(codepage)
    joined = "".join(f"{s:<{width}.{width}}" for s in values).encode(codec)
    return np.frombuffer(joined, dtype=np.uint8).reshape(len(values), width)


def blank_records(n: int, size: int, codepage: str) -> np.ndarray:
    return np.full((n, size), space_byte(codepage), dtype=np.uint8)
