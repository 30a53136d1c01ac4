"""DISPLAY numbers in their general form: explicit decimal point, edited pictures
(Z * + - CR DB …), SIGN LEADING/TRAILING [SEPARATE], and more than 18 digits.

Each byte is classified by a 256-entry table (digit, sign, skip, CR/DB letter, invalid) and
the digits are combined column by column over the whole chunk. Wide values are built from
two int64 halves (the last 18 digits and the rest), so nothing goes through a float. Plain
zoned fields with a trailing overpunch use the faster `zoned` module instead.
"""

from __future__ import annotations

import numpy as np

from pipelines.copybook.model import Field

INVALID, DIGIT, PLUS, MINUS, SKIP, LETTER_C, LETTER_R, LETTER_D, LETTER_B = range(9)
DISPLAY_REASONS = {
    1: "invalid character in a numeric field",
    3: "negative sign in an unsigned field",
    4: "invalid separate sign character",
}
_POW10 = np.array([10**i for i in range(19)], dtype=np.int64)


def _class_tables(ebcdic: bool) -> tuple[np.ndarray, np.ndarray]:
    cls = np.zeros(256, dtype=np.uint8)
    val = np.zeros(256, dtype=np.int64)
    zero = 0xF0 if ebcdic else 0x30
    cls[zero : zero + 10] = DIGIT
    val[zero : zero + 10] = np.arange(10)
    chars = {
        "+": PLUS,
        "-": MINUS,
        " ": SKIP,
        ".": SKIP,
        ",": SKIP,
        "*": SKIP,
        "/": SKIP,
        "$": SKIP,
        "C": LETTER_C,
        "R": LETTER_R,
        "D": LETTER_D,
        "B": LETTER_B,
    }
    for ch, c in chars.items():
        cls[ch.encode("cp037" if ebcdic else "latin-1")[0]] = c
    return cls, val


_TABLES = {True: _class_tables(True), False: _class_tables(False)}


def _relaxed(tables: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    cls, val = tables[0].copy(), tables[1]
    cls[0x00] = SKIP  # low-values padding around the digits
    return cls, val


_RELAXED = {True: _relaxed(_TABLES[True]), False: _relaxed(_TABLES[False])}


def _overpunch(byte: np.ndarray, ebcdic: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(is a signed digit, digit value, negative) for bytes at the sign position."""
    if ebcdic:
        zone, digit = byte >> 4, byte & 0x0F
        ok = ((zone == 0xC) | (zone == 0xD) | (zone == 0xF)) & (digit <= 9)
        return ok, digit.astype(np.int64), zone == 0xD
    # ASCII: IBM letters ({ A-I positive, } J-R negative) and GnuCOBOL/Micro Focus p-y
    b = byte.astype(np.int64)
    pos = (b >= 0x41) & (b <= 0x49)
    neg = (b >= 0x4A) & (b <= 0x52)
    mf = (b >= 0x70) & (b <= 0x79)
    digit = np.where(pos, b - 0x40, np.where(neg, b - 0x49, np.where(mf, b - 0x70, b - 0x30)))
    digit = np.where(b == 0x7B, 0, np.where(b == 0x7D, 0, digit))
    negative = neg | mf | (b == 0x7D)
    ok = pos | neg | mf | (b == 0x7B) | (b == 0x7D) | ((b >= 0x30) & (b <= 0x39))
    return ok, digit, negative


def _combine(val: np.ndarray, is_digit: np.ndarray, power: np.ndarray) -> np.ndarray:
    """Digits with their powers of ten → int64 values, or exact Python ints past 18 digits
    (summed in 18-digit parts so no int64 ever overflows)."""
    parts = []
    for k in range(int(power.max(initial=0)) // 18 + 1):
        sel = is_digit & (power >= 18 * k) & (power < 18 * (k + 1))
        parts.append(np.where(sel, val * _POW10[np.clip(power - 18 * k, 0, 18)], 0).sum(axis=1))
    if len(parts) == 1:
        return parts[0]
    value = parts[0].astype(object)
    for k, part in enumerate(parts[1:], start=1):
        value = value + part.astype(object) * 10 ** (18 * k)
    return value


def decode_display_number(
    block: np.ndarray, field: Field, ebcdic: bool, relaxed: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(records, width) → (unscaled values, no-digits mask, bad mask, reason codes).

    Values are int64, or Python ints (object array) when any value needs more than 18 digits.
    """
    n, width = block.shape
    cls_table, val_table = (_RELAXED if relaxed else _TABLES)[ebcdic]
    cls = cls_table[block]
    val = val_table[block]
    pic = field.picture
    negative = np.zeros(n, dtype=bool)
    reason = np.zeros(n, dtype=np.int8)
    if field.sign_separate:
        pos = 0 if field.sign_leading else width - 1
        sign = cls[:, pos]
        negative |= sign == MINUS
        reason[(sign != PLUS) & (sign != MINUS)] = 4
        cls[:, pos] = SKIP
    elif pic.signed and not pic.edited:
        pos = 0 if field.sign_leading else width - 1
        ok, digit, neg = _overpunch(block[:, pos], ebcdic)
        cls[:, pos] = np.where(ok, DIGIT, cls[:, pos])
        val[:, pos] = np.where(ok, digit, val[:, pos])
        negative |= ok & neg
    negative |= (cls == MINUS).any(axis=1)
    if width > 1:
        cr = (cls[:, :-1] == LETTER_C) & (cls[:, 1:] == LETTER_R)
        db = (cls[:, :-1] == LETTER_D) & (cls[:, 1:] == LETTER_B)
        negative |= (cr | db).any(axis=1)
        letters_ok = np.zeros_like(cls, dtype=bool)
        letters_ok[:, :-1] |= cr | db
        letters_ok[:, 1:] |= cr | db
    else:
        letters_ok = np.zeros_like(cls, dtype=bool)
    letters = (cls >= LETTER_C) & (cls <= LETTER_B)
    invalid = (cls == INVALID) | (letters & ~letters_ok)
    reason[(reason == 0) & invalid.any(axis=1)] = 1
    is_digit = cls == DIGIT
    no_digits = ~is_digit.any(axis=1)
    power = np.cumsum(is_digit[:, ::-1], axis=1)[:, ::-1] - is_digit
    value = _combine(val, is_digit, power)
    value = np.where(negative, -value, value)
    if not pic.signed:
        reason[(reason == 0) & negative] = 3
    return value, no_digits, reason != 0, reason
