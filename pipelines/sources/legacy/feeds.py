"""The legacy feeds we land: which copybook, which records, keys, dates and control totals.

This is the contract between the IBM i extract jobs and ledgerbridge. A new extract is
a new `Feed` entry, not new code.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ControlTotal:
    """A trailer field that must equal the sum of a detail field over all detail records."""

    trailer_column: str
    detail_column: str


@dataclass(frozen=True)
class Feed:
    name: str  # bronze table name
    folder: str  # sub-folder of <landing>/legacy holding the data files
    copybook: str  # file name under <landing>/legacy/copybooks
    detail_record: str
    header_record: str
    trailer_record: str
    primary_key: tuple[str, ...]
    # Fields a record cannot land without: a fault here quarantines the whole record.
    required: tuple[str, ...]
    trailer_count: str
    control_totals: tuple[ControlTotal, ...]
    header_extract_date: str
    dates: dict[str, str] = field(default_factory=dict)
    # The journal sequence the extract was taken at (a header field), for feeds whose file
    # is also journaled: the legacy state is this extract plus the journal entries after
    # that position. A feed without one follows `journal_position_rule` (see README).
    header_journal_sequence: str | None = None
    # "applied": the extract holds every journal entry applied when it lands. Risk: an
    # entry journaled after the snapshot but applied before the file lands is taken as in
    # the extract and missing from the state until the next extract (then seen as drift).
    journal_position_rule: str = "applied"
    codepage: str = "cp273"
    record_type_offset: int = 0
    record_types: dict[str, str] = field(
        default_factory=lambda: {"H": "header", "D": "detail", "T": "trailer"}
    )
    file_glob: str = "*.dat"


FEEDS: tuple[Feed, ...] = (
    Feed(
        name="customers",
        folder="customers",
        copybook="ARCUST.cpy",
        detail_record="ARCUST-RECORD",
        header_record="ARCUST-HEADER",
        trailer_record="ARCUST-TRAILER",
        primary_key=("cm_cust_no",),
        required=("cm_cust_no",),
        trailer_count="ct_record_count",
        control_totals=(ControlTotal("ct_hash_credit", "cm_credit_limit"),),
        header_extract_date="ch_extract_date",
        header_journal_sequence="ch_jrn_seq",
        dates={"cm_created": "CYYMMDD", "ch_extract_date": "YYYYMMDD"},
    ),
    Feed(
        name="open_items",
        folder="open_items",
        copybook="AROPEN.cpy",
        detail_record="AROPEN-RECORD",
        header_record="AROPEN-HEADER",
        trailer_record="AROPEN-TRAILER",
        primary_key=("oi_doc_no",),
        required=("oi_doc_no", "oi_cust_no", "oi_due_date", "oi_amount", "oi_open_amount"),
        trailer_count="ot_record_count",
        control_totals=(
            ControlTotal("ot_hash_amount", "oi_amount"),
            ControlTotal("ot_hash_open", "oi_open_amount"),
        ),
        header_extract_date="oh_extract_date",
        header_journal_sequence="oh_jrn_seq",
        dates={"oi_doc_date": "YYYYMMDD", "oi_due_date": "CYYMMDD", "oh_extract_date": "YYYYMMDD"},
    ),
    Feed(
        name="payments",
        folder="payments",
        copybook="ARPAYM.cpy",
        detail_record="ARPAYM-RECORD",
        header_record="ARPAYM-HEADER",
        trailer_record="ARPAYM-TRAILER",
        primary_key=("pm_payment_id",),
        required=("pm_payment_id", "pm_cust_no", "pm_amount"),
        trailer_count="pt_record_count",
        control_totals=(ControlTotal("pt_hash_amount", "pm_amount"),),
        header_extract_date="ph_extract_date",
        dates={"pm_value_date": "CYYMMDD", "ph_extract_date": "YYYYMMDD"},
    ),
)


def feed_by_name(name: str) -> Feed:
    for f in FEEDS:
        if f.name == name:
            return f
    raise KeyError(f"no legacy feed named {name!r}; known: {', '.join(f.name for f in FEEDS)}")
