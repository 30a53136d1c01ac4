"""Copybook parsing: reference format, layouts and errors that name the line."""

from __future__ import annotations

import pytest

from pipelines.copybook import CopybookError, Usage, parse_copybook
from pipelines.embedded.demo.legacy_files import COPYBOOK_DIR as DEMO


def _line(seq: str, indicator: str, code: str, ident: str = "") -> str:
    """A reference-format line: 1-6 sequence, 7 indicator, 8-72 code, 73-80 identification."""
    return f"{seq:6}{indicator}{code:<65}{ident:8}"


def test_reference_format_ignores_sequence_area_and_identification() -> None:
    text = "\n".join(
        [
            _line("000100", "*", "a comment line"),
            _line("000200", " ", "01  REC.", "IDENT001"),
            _line("000300", " ", "    05  A   PIC X(3).", "IDENT002"),
            _line("000400", " ", "    05  B   PIC S9(5)V99", "IDENT003"),
            _line("000500", " ", "            COMP-3."),
            _line("000600", "D", "    05  DEBUG-ONLY PIC X."),
            _line("000700", " ", "    05  C   PIC 9(4) BINARY."),
        ]
    )
    rec = parse_copybook(text)["REC"]
    assert [(f.name, f.offset, f.size) for f in rec.fields] == [
        ("A", 0, 3),
        ("B", 3, 4),
        ("C", 7, 2),
    ]
    assert rec.fields[1].usage is Usage.PACKED
    assert rec.fields[1].picture.scale == 2 and rec.fields[1].picture.signed


def test_occurs_redefines_filler_and_88_levels() -> None:
    text = """
       01  REC.
           05  KIND    PIC X.
               88  IS-A VALUE 'A'.
           05  ITEMS   OCCURS 3 TIMES.
               10  CODE  PIC X(2).
               10  QTY   PIC 9(3) COMP-3.
           05  RAW REDEFINES ITEMS PIC X(12).
           05  FILLER  PIC X(5).
           05  TAIL    PIC X.
    """
    rec = parse_copybook(text)["REC"]
    names = {f.name: (f.offset, f.size) for f in rec.fields}
    assert names["CODE_1"] == (1, 2) and names["QTY_3"] == (11, 2)
    assert names["RAW"] == (1, 12)
    assert names["TAIL"] == (18, 1)
    assert rec.size == 19


def test_several_01_records() -> None:
    recs = parse_copybook((DEMO / "AROPEN.cpy").read_text())
    assert list(recs) == ["AROPEN-RECORD", "AROPEN-HEADER", "AROPEN-TRAILER"]
    assert {r.size for r in recs.values()} == {120}


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("       01  REC.\n           05  A PIC Q(3).\n", "line 2"),
        ("       01  REC.\n           05  A PIC X(3) FOO.\n", "line 2"),
        (
            "       01  REC.\n           05  A PIC X.\n           05  C REDEFINES Z PIC X.\n",
            "line 3",
        ),
        ("       01  REC.\n           05  N PIC 9 OCCURS 1 TO 5 DEPENDING ON.\n", "line 2"),
    ],
)
def test_errors_name_the_line(text: str, needle: str) -> None:
    with pytest.raises(CopybookError, match=needle):
        parse_copybook(text)


def test_occurs_depending_on_takes_the_maximum_and_records_the_counter() -> None:
    text = """
       01  REC.
           05  CNT     PIC 9(2).
           05  ITEM    OCCURS 1 TO 3 TIMES DEPENDING ON CNT.
               10  CODE  PIC X(2).
           05  TAIL    PIC X.
    """
    rec = parse_copybook(text)["REC"]
    assert rec.size == 9
    code3 = rec.field("CODE_3")
    assert (code3.offset, code3.depends_on) == (6, (("CNT", 3, 2),))
    assert rec.field("TAIL").offset == 8


def test_repeated_names_are_qualified_and_branches_known() -> None:
    text = """
       01  ENTITY.
           05  SEG        PIC X.
           05  COMPANY.
               10  ADDRESS  PIC X(4).
           05  PERSON REDEFINES COMPANY.
               10  ADDRESS  PIC X(4).
    """
    rec = parse_copybook(text)["ENTITY"]
    assert [(f.name, f.branch) for f in rec.fields] == [
        ("SEG", None),
        ("COMPANY-ADDRESS", "COMPANY"),
        ("PERSON-ADDRESS", "PERSON"),
    ]


def test_errors_name_line_and_column() -> None:
    text = "\n".join(
        [
            _line("000100", " ", "01  REC."),
            _line("000200", " ", "    05  A   PIC X(3) BOGUS."),
        ]
    )
    with pytest.raises(CopybookError, match=r"line 2, column 29: unexpected 'BOGUS'"):
        parse_copybook(text)


def test_occurs_clauses_without_storage_and_free_format() -> None:
    text = """
01 REC.
   05 ITEMS OCCURS 2 TIMES ASCENDING KEY IS CODE INDEXED BY IX.
      10 CODE PIC X(2).
   05 TAIL PIC S9(3) COMP-3 VALUE ZERO.
"""
    rec = parse_copybook(text, free_format=True)["REC"]
    assert [(f.name, f.offset) for f in rec.fields] == [("CODE_1", 0), ("CODE_2", 2), ("TAIL", 4)]


def test_renames_a_field_and_a_range() -> None:
    text = """
01 REC.
   05 CUST-NO   PIC 9(6).
   05 NAME.
      10 FIRST  PIC X(5).
      10 LAST   PIC X(7).
   05 AMOUNT    PIC S9(5)V99 COMP-3.
66 CUSTOMER-KEY RENAMES CUST-NO.
66 FULL-NAME RENAMES FIRST THRU LAST.
66 HEAD RENAMES CUST-NO THROUGH NAME.
"""
    rec = parse_copybook(text, free_format=True)["REC"]
    key = rec.field("CUSTOMER-KEY")
    assert (key.offset, key.size, key.picture.is_numeric) == (0, 6, True)
    full = rec.field("FULL-NAME")
    assert (full.offset, full.size, full.picture.category) == (6, 12, "alphanumeric")
    head = rec.field("HEAD")
    assert (head.offset, head.size) == (0, 18)
    assert rec.size == 22


def test_renames_of_an_unknown_item_names_the_line() -> None:
    text = "01 REC.\n   05 A PIC X.\n66 B RENAMES NOPE.\n"
    with pytest.raises(CopybookError, match="line 3: RENAMES names unknown item NOPE"):
        parse_copybook(text, free_format=True)


def test_renamed_items_decode_and_nest() -> None:
    import numpy as np

    from pipelines.decoding.records.decode import DecodeOptions, decode_chunk
    from pipelines.decoding.records.nested import nest

    text = "01 REC.\n 05 A PIC X(2).\n 05 B PIC 9(2).\n66 AB RENAMES A THRU B.\n"
    rec = parse_copybook(text, free_format=True)["REC"]
    row = np.frombuffer("xy42".encode("cp037"), dtype=np.uint8).reshape(1, 4)
    table, _ = decode_chunk(row, rec, DecodeOptions(codepage="cp037"))
    assert nest(table.to_pylist()[0], rec) == {"A": "xy", "B": 42, "AB": "xy42"}


def test_sync_inserts_slack_bytes_as_ibm_documents() -> None:
    """IBM Enterprise COBOL's own examples (Language Reference, SYNCHRONIZED clause)."""
    text = """
       01  FIELD-A.
           05  FIELD-B         PICTURE X(5).
           05  FIELD-C.
               10  FIELD-D     PICTURE XX.
               10  FIELD-E     COMPUTATIONAL PICTURE S9(6) SYNC.
       01  WORK-RECORD.
           05  WORK-CODE       PICTURE X.
           05  COMP-TABLE      OCCURS 10 TIMES.
               10  COMP-TYPE   PICTURE X.
               10  COMP-PAY    PICTURE S9(4)V99 COMP SYNC.
               10  COMP-HRS    PICTURE S9(3) COMP SYNC.
               10  COMP-NAME   PICTURE X(5).
"""
    records = parse_copybook(text)
    a = records["FIELD-A"]
    assert a.field("FIELD-E").offset == 8 and a.size == 12  # one slack byte after FIELD-D
    w = records["WORK-RECORD"]
    # two slack bytes before COMP-PAY, two after COMP-NAME in every occurrence (16 bytes)
    assert [w.field(f"COMP-PAY_{n}").offset for n in (1, 2, 10)] == [4, 20, 148]
    assert [w.field(f"COMP-TYPE_{n}").offset for n in (1, 2)] == [1, 17]
    assert w.field("COMP-HRS_2").offset == 24 and w.field("COMP-NAME_2").offset == 26
    assert w.size == 1 + 16 * 10


def test_sync_boundaries_by_usage_and_table_start() -> None:
    text = """
       01  R SYNC.
           05  A    PIC X.
           05  H    PIC S9(4) COMP.
           05  B    PIC X.
           05  F    PIC S9(9) BINARY.
           05  C    PIC X.
           05  D    COMP-2.
           05  E    PIC X.
           05  P    PIC S9(5) COMP-3.
           05  T    PIC S9(4) COMP OCCURS 3.
"""
    r = parse_copybook(text)["R"]
    got = {f.name: f.offset for f in r.fields}
    # halfword on 2, fullword on 4, COMP-2 on 8; packed is not moved; the table's slack
    # comes before its first element only
    assert got == {
        "A": 0,
        "H": 2,
        "B": 4,
        "F": 8,
        "C": 12,
        "D": 16,
        "E": 24,
        "P": 25,
        "T_1": 28,
        "T_2": 30,
        "T_3": 32,
    }
    assert r.size == 34
    plain = parse_copybook(text.replace(" SYNC.", "."))["R"]
    assert plain.field("F").offset == 4 and plain.size == 1 + 2 + 1 + 4 + 1 + 8 + 1 + 3 + 6


def test_sync_with_variable_size_occurs_is_refused_with_the_line() -> None:
    from pipelines.decoding.records.framing import FramingError
    from pipelines.decoding.records.variable_occurs import split_variable_records

    text = """
       01  R.
           05  N    PIC 9.
           05  A    PIC X OCCURS 0 TO 3 DEPENDING ON N.
           05  B    PIC S9(4) COMP SYNC.
"""
    layout = parse_copybook(text)["R"]
    with pytest.raises(FramingError, match=r"line 5: B is SYNCHRONIZED"):
        split_variable_records(b"\xf1A\x00\x00\x01", layout)
