"""Field codecs: one COBOL field type each, a whole column at a time — packed (COMP-3),
zoned and other DISPLAY numbers, binary, floats, text in EBCDIC code pages, dates — plus the
compiled kernels that decode the common ones in one pass, and Arrow array builders."""
