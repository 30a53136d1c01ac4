"""Write IBM i-style EBCDIC extract files: header, fixed-length detail records, trailer.

The trailer carries the record count and hash totals of the amount fields, as the
exporting job computes them; the writer accumulates them while streaming blocks out.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import BinaryIO

import numpy as np

from pipelines.copybook import RecordLayout, parse_copybook
from pipelines.embedded.demo import encoding
from pipelines.embedded.demo.world import days_to_cyymmdd, days_to_ymd
from pipelines.sources.legacy.feeds import Feed

COPYBOOK_DIR = Path(__file__).parent / "copybooks"


class ExtractWriter:
    """Streams one feed's extract file; `close()` writes the trailer."""

    def __init__(
        self,
        feed: Feed,
        path: Path,
        as_of: date,
        system: str = "ARSYS400",
        journal_sequence: int | None = None,
    ) -> None:
        records = parse_copybook((COPYBOOK_DIR / feed.copybook).read_text())
        self.feed = feed
        self.detail: RecordLayout = records[feed.detail_record]
        self.header: RecordLayout = records[feed.header_record]
        self.trailer: RecordLayout = records[feed.trailer_record]
        self.cp = feed.codepage
        self.count = 0
        self.totals = {ct.trailer_column: 0 for ct in feed.control_totals}
        if isinstance(path, Path):
            path.parent.mkdir(parents=True, exist_ok=True)
        self._out: BinaryIO = path.open("wb")
        rec = encoding.blank_records(1, self.header.size, self.cp)
        self._put(rec, self.header, self.header.fields[0].column, encoding.text(["H"], 1, self.cp))
        file_id = path.stem[:10]
        self._put(
            rec, self.header, self.header.fields[1].column, encoding.text([file_id], 10, self.cp)
        )
        self._put(
            rec,
            self.header,
            feed.header_extract_date,
            encoding.zoned(days_to_ymd(np.array([(as_of - date(1970, 1, 1)).days])), 8),
        )
        self._put(
            rec, self.header, self.header.fields[3].column, encoding.text([system], 10, self.cp)
        )
        if feed.header_journal_sequence and journal_sequence is not None:
            size = self.header.field(feed.header_journal_sequence).size
            self._put(
                rec,
                self.header,
                feed.header_journal_sequence,
                encoding.zoned(np.array([journal_sequence]), size),
            )
        self._out.write(rec.tobytes())

    @staticmethod
    def _put(rec: np.ndarray, layout: RecordLayout, column: str, data: np.ndarray) -> None:
        f = layout.field(column)
        rec[:, f.offset : f.offset + f.size] = data

    def records(self, n: int) -> np.ndarray:
        rec = encoding.blank_records(n, self.detail.size, self.cp)
        rec[:, 0] = encoding.text(["D"], 1, self.cp)[0, 0]
        return rec

    def put(self, rec: np.ndarray, column: str, data: np.ndarray) -> None:
        self._put(rec, self.detail, column, data)

    def field(self, column: str) -> tuple[int, int]:
        f = self.detail.field(column)
        return f.offset, f.size

    def write(self, rec: np.ndarray, amounts: dict[str, np.ndarray]) -> None:
        """Append detail records; `amounts` maps detail columns to their unscaled values."""
        self.count += len(rec)
        for ct in self.feed.control_totals:
            self.totals[ct.trailer_column] += int(amounts[ct.detail_column].sum())
        self._out.write(rec.tobytes())

    def close(self) -> None:
        rec = encoding.blank_records(1, self.trailer.size, self.cp)
        self._put(
            rec, self.trailer, self.trailer.fields[0].column, encoding.text(["T"], 1, self.cp)
        )
        self._put(
            rec, self.trailer, self.feed.trailer_count, encoding.zoned(np.array([self.count]), 9)
        )
        for column, total in self.totals.items():
            size = self.trailer.field(column).size
            self._put(rec, self.trailer, column, encoding.packed(np.array([total]), size))
        self._out.write(rec.tobytes())
        self._out.close()


def customer_records(w: ExtractWriter, c: dict) -> np.ndarray:
    cp = w.cp
    n = len(c["cust_no"])
    rec = w.records(n)
    w.put(rec, "cm_cust_no", encoding.zoned(c["cust_no"], 8))
    for col, key, width in (
        ("cm_name", "name", 40),
        ("cm_street", "street", 35),
        ("cm_postcode", "postcode", 10),
        ("cm_city", "city", 30),
        ("cm_country", "country", 2),
        ("cm_vat_id", "vat", 14),
        ("cm_iban", "iban", 34),
        ("cm_contact", "contact", 35),
        ("cm_email", "email", 60),
        ("cm_currency", "currency", 3),
        ("cm_pay_terms", "terms", 4),
        ("cm_status", "status", 1),
    ):
        w.put(rec, col, encoding.text(list(c[key]), width, cp))
    w.put(rec, "cm_credit_limit", encoding.packed(c["credit"], 7))
    w.put(rec, "cm_created", encoding.packed(days_to_cyymmdd(c["created"]), 4))
    w.put(rec, "cm_risk_class", encoding.binary(c["risk"], 2))
    return rec


def item_records(w: ExtractWriter, it: dict) -> np.ndarray:
    cp = w.cp
    rec = w.records(len(it["cust_no"]))
    w.put(rec, "oi_doc_no", encoding.text(it["doc_no"], 10, cp))
    w.put(rec, "oi_cust_no", encoding.zoned(it["cust_no"], 8))
    w.put(rec, "oi_doc_type", encoding.text(list(it["doc_type"]), 2, cp))
    w.put(rec, "oi_doc_date", encoding.zoned(days_to_ymd(it["doc_date"]), 8))
    w.put(rec, "oi_due_date", encoding.packed(days_to_cyymmdd(it["due"]), 4))
    w.put(rec, "oi_amount", encoding.packed(it["amount"], 7))
    w.put(rec, "oi_open_amount", encoding.packed(it["open"], 7))
    w.put(rec, "oi_currency", encoding.text(list(it["currency"]), 3, cp))
    w.put(rec, "oi_contract_ref", encoding.text(list(it["contract"]), 12, cp))
    w.put(rec, "oi_dunning_level", encoding.zoned(it["dunning"], 1))
    w.put(rec, "oi_text", encoding.text(list(it["text"]), 40, cp))
    return rec


def payment_records(w: ExtractWriter, p: dict) -> np.ndarray:
    cp = w.cp
    rec = w.records(len(p["cust_no"]))
    w.put(rec, "pm_payment_id", encoding.text(p["payment_id"], 12, cp))
    w.put(rec, "pm_cust_no", encoding.zoned(p["cust_no"], 8))
    w.put(rec, "pm_doc_no", encoding.text(p["doc_no"], 10, cp))
    w.put(rec, "pm_value_date", encoding.packed(days_to_cyymmdd(p["value_date"]), 4))
    w.put(rec, "pm_amount", encoding.packed(p["amount"], 7))
    w.put(rec, "pm_currency", encoding.text(list(p["currency"]), 3, cp))
    w.put(rec, "pm_method", encoding.text(list(p["method"]), 2, cp))
    return rec


def corrupt_zoned_digit(w: ExtractWriter, rec: np.ndarray, rows: np.ndarray, column: str) -> None:
    """A letter where a digit belongs (zone C in a non-final position): a bad key."""
    off, _ = w.field(column)
    rec[rows, off] = 0xC1


def corrupt_packed_nibble(w: ExtractWriter, rec: np.ndarray, rows: np.ndarray, column: str) -> None:
    """A digit nibble of x'A': what a program writing garbage into a packed field leaves."""
    off, _ = w.field(column)
    rec[rows, off] = 0xA1


def corrupt_date(
    w: ExtractWriter, rec: np.ndarray, rows: np.ndarray, column: str, packed: bool
) -> None:
    """A well-formed number that is not a date (month 13)."""
    off, size = w.field(column)
    if packed:
        rec[rows, off : off + size] = encoding.packed(np.full(len(rows), 1_261_345), size)
    else:
        rec[rows, off : off + size] = encoding.zoned(np.full(len(rows), 20_261_345), size)
