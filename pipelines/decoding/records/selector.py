"""The one place that picks each field's decoder, from its PIC, USAGE and the options.

Cobrix keeps this in one function (DecoderSelector); so does ledgerbridge: the record
decoder (records.py) asks `choose` and runs what it names. The compiled kernels take the
common, narrow cases in one pass over the records; numpy takes the rest."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from pipelines.copybook.model import Field, Usage
from pipelines.decoding.fields import kernels
from pipelines.decoding.fields.codepages import is_ebcdic

if TYPE_CHECKING:
    from pipelines.decoding.records.decode import DecodeOptions


class Decoder(Enum):
    # compiled one-pass kernels (kernels.py)
    KERNEL_PACKED = "kernel_packed"
    KERNEL_ZONED = "kernel_zoned"
    KERNEL_BINARY = "kernel_binary"
    # vectorised numpy
    PACKED = "packed"  # COMP-3 (packed.py)
    BINARY = "binary"  # COMP/COMP-4/COMP-5 up to 8 bytes (binary.py)
    WIDE_BINARY = "wide_binary"  # binary beyond 8 bytes
    ZONED = "zoned"  # DISPLAY, EBCDIC overpunch (zoned.py)
    GENERAL_DISPLAY = "display"  # edited, explicit point, separate/leading sign, > 18 digits,
    # signed ASCII, relaxed (display_numbers.py)
    FLOAT = "float"  # COMP-1/COMP-2 (floats.py)
    TEXT = "text"  # PIC X/A in the field's code page (text_kernel.py)
    NATIONAL = "national"  # PIC N: UTF-16 big-endian


# the compiled kernel each kernel decoder runs, and its numpy equivalent
KERNEL_CODES = {
    Decoder.KERNEL_PACKED: kernels.PACKED,
    Decoder.KERNEL_ZONED: kernels.ZONED,
    Decoder.KERNEL_BINARY: kernels.BINARY,
}
NUMPY_EQUIVALENT = {
    Decoder.KERNEL_PACKED: Decoder.PACKED,
    Decoder.KERNEL_ZONED: Decoder.ZONED,
    Decoder.KERNEL_BINARY: Decoder.BINARY,
}


def needs_general_display(f: Field) -> bool:
    pic = f.picture
    return pic.edited or pic.explicit_point or f.sign_separate or f.sign_leading or pic.digits > 18


def _kernel(f: Field, ebcdic: bool, opts: DecodeOptions) -> Decoder | None:
    """The compiled kernel that takes `f`, if one does (the common, narrow cases)."""
    pic = f.picture
    if pic.scale < 0:  # P scaling to the right: numpy multiplies out
        return None
    if f.usage is Usage.PACKED and f.size <= 9:
        return Decoder.KERNEL_PACKED
    if (
        f.usage is Usage.DISPLAY
        and ebcdic
        and not needs_general_display(f)
        and pic.digits <= 18
        and opts.display_numbers != "relaxed"
    ):
        return Decoder.KERNEL_ZONED
    if (
        f.usage in (Usage.BINARY, Usage.NATIVE_BINARY)
        and f.size in (2, 4, 8)
        and (pic.signed or f.size < 8)
        and not (f.usage is Usage.NATIVE_BINARY and opts.dialect != "mainframe")
    ):
        return Decoder.KERNEL_BINARY
    return None


def choose(f: Field, opts: DecodeOptions, compiled: bool = True) -> Decoder:
    """The decoder for field `f`. `compiled=False`: never a kernel (an empty chunk, or the
    numpy path asked for directly)."""
    pic = f.picture
    if not pic.is_numeric:
        return Decoder.NATIONAL if pic.category == "national" else Decoder.TEXT
    if f.usage in (Usage.FLOAT, Usage.DOUBLE):
        return Decoder.FLOAT
    codepage = opts.codepage_for(f)
    ebcdic = is_ebcdic(codepage)
    # a field with its own code page takes the numpy path (the kernels run one code page)
    if compiled and codepage == opts.codepage:
        kernel = _kernel(f, ebcdic, opts)
        if kernel is not None:
            return kernel
    if f.usage is Usage.PACKED:
        return Decoder.PACKED
    if f.usage in (Usage.BINARY, Usage.NATIVE_BINARY):
        return Decoder.BINARY if f.size <= 8 else Decoder.WIDE_BINARY
    relaxed = opts.display_numbers == "relaxed"
    if needs_general_display(f) or (not ebcdic and pic.signed) or relaxed:
        return Decoder.GENERAL_DISPLAY
    return Decoder.ZONED
