"""One legacy extract file → verified, decoded batches plus quarantine rows.

Two passes over the file. The first proves the file complete (one header, one trailer, record
count and hash totals equal to the trailer's) and finds duplicate keys, decoding only the
fields it needs; a file that fails is rejected whole, before anything of it is yielded. The
second decodes every field; a record whose required fields do not decode, or whose key
repeats an earlier record, goes to quarantine with the reason; other faults leave a null and
an entry in the record's `_errors`. Records read = landed + quarantined, always.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np
import pyarrow as pa

from pipelines.copybook import RecordLayout, parse_copybook
from pipelines.decoding.execution.reader import RecordChunk, read_records
from pipelines.decoding.fields.codepages import codec_name
from pipelines.decoding.records.decode import DecodeOptions, FieldFault, decode_chunk, fault_entries
from pipelines.decoding.records.framing import Framing, FramingError
from pipelines.sources.legacy.feeds import Feed

BATCH_ROWS = 65_536


class StrictModeError(ValueError):
    """--strict: a value that does not decode stops the extract; nothing of the file lands."""


class FileFault(ValueError):
    """The file as a whole is unusable; the message names file, byte offset and record."""


@dataclass
class FileReport:
    """What happened to one file: the numbers the summary and the file log show."""

    file: str
    feed: str
    status: str = "pending"  # loaded | rejected
    records_read: int = 0
    records_landed: int = 0
    records_quarantined: int = 0
    records_with_errors: int = 0
    extract_date: date | None = None
    journal_sequence: int | None = None  # the journal position the extract was taken at
    reason: str | None = None
    control: dict[str, str] = field(default_factory=dict)


@dataclass
class _Verified:
    header: pa.Table
    trailer: pa.Table
    detail_count: int
    duplicate_of: dict[int, int]  # record number → record number of the first occurrence


class LegacyFile:
    """A landing-zone extract file and the feed that describes it."""

    def __init__(
        self,
        url: str,
        name: str,
        feed: Feed,
        copybook_text: str,
        progress: Callable[[int], None] | None = None,
        strict: bool = False,
    ) -> None:
        self.progress = progress  # called with the bytes decoded, chunk by chunk
        self.strict = strict  # the first value that does not decode stops the extract
        self.url = url
        self.name = name
        self.feed = feed
        layouts = parse_copybook(copybook_text)
        self.detail: RecordLayout = layouts[feed.detail_record]
        self.header: RecordLayout = layouts[feed.header_record]
        self.trailer: RecordLayout = layouts[feed.trailer_record]
        self.record_length = max(self.detail.size, self.header.size, self.trailer.size)
        self.opts = DecodeOptions(codepage=feed.codepage, dates=feed.dates)
        cp = codec_name(feed.codepage)
        self.type_bytes = {kind: code.encode(cp)[0] for code, kind in feed.record_types.items()}
        self.report = FileReport(file=name, feed=feed.name)

    def _chunks(self) -> Iterator[RecordChunk]:
        """Fixed-length records through the engine's reader; framing faults are file faults."""
        framing = Framing(record_length=self.record_length)
        try:
            yield from read_records(self.url, framing, self.record_length)
        except FramingError as exc:
            raise FileFault(str(exc).replace(self.url, self.name)) from exc

    # ---------- pass 1
    def _kinds(self, chunk: RecordChunk) -> np.ndarray:
        return chunk.records[:, self.feed.record_type_offset]

    def verify(self) -> _Verified:
        """Raise FileFault unless header, trailer, count and control totals agree."""
        feed = self.feed
        header = trailer = None
        count = 0
        sums = {ct.detail_column: Decimal(0) for ct in feed.control_totals}
        # pass 1 decodes only the control-total fields
        totals_only = RecordLayout(
            self.detail.name, self.detail.size, [self.detail.field(c) for c in sums]
        )
        keys: list[np.ndarray] = []
        numbers: list[np.ndarray] = []
        detail_b, header_b, trailer_b = (
            self.type_bytes[k] for k in ("detail", "header", "trailer")
        )
        for chunk in self._chunks():
            kinds = self._kinds(chunk)
            nums = chunk.first_record + np.arange(len(kinds))
            unknown = ~np.isin(kinds, [detail_b, header_b, trailer_b])
            if unknown.any():
                i = int(np.argmax(unknown))
                raise FileFault(
                    f"{self.name}: record {nums[i]} at byte offset "
                    f"{(nums[i] - 1) * self.record_length} has unknown record type "
                    f"x'{kinds[i]:02X}'"
                )
            if trailer is not None and len(kinds):
                raise FileFault(f"{self.name}: records follow the trailer record")
            for kind, which in ((header_b, "header"), (trailer_b, "trailer")):
                at = np.flatnonzero(kinds == kind)
                if len(at) == 0:
                    continue
                if which == "header" and (header is not None or nums[at[0]] != 1 or len(at) > 1):
                    raise FileFault(
                        f"{self.name}: header record at record {nums[at[-1]]}; "
                        "exactly one header, as record 1, is expected"
                    )
                if which == "trailer" and (
                    trailer is not None or len(at) > 1 or at[0] != len(kinds) - 1
                ):
                    raise FileFault(
                        f"{self.name}: trailer record at record {nums[at[0]]} "
                        "is not the last record of the file"
                    )
                layout = self.header if which == "header" else self.trailer
                table, faults = decode_chunk(chunk.records[at[:1]], layout, self.opts)
                if faults:
                    f = faults[0]
                    raise FileFault(
                        f"{self.name}: {which} record field {f.field.name} "
                        f"does not decode: {f.reasons[0]}"
                    )
                if which == "header":
                    header = table
                else:
                    trailer = table
            detail = np.flatnonzero(kinds == detail_b)
            if len(detail) == 0:
                continue
            recs = chunk.records[detail]
            count += len(detail)
            table, faults = decode_chunk(recs, totals_only, self.opts)
            for f in faults:
                i = int(np.argmax(f.bad))
                raise FileFault(
                    f"{self.name}: control total field {f.field.name} of record "
                    f"{nums[detail[i]]} does not decode ({f.reasons[i]}); the file's hash "
                    "total cannot be verified"
                )
            for col in sums:
                total = pa.compute.sum(table[col]).as_py()
                sums[col] += total if total is not None else Decimal(0)
            keys.append(self._key_hash(recs))
            numbers.append(nums[detail])
        if header is None:
            raise FileFault(f"{self.name}: no header record at record 1")
        if trailer is None:
            raise FileFault(f"{self.name}: no trailer record: the file is incomplete")
        expected_count = trailer[feed.trailer_count][0].as_py()
        if expected_count != count:
            raise FileFault(
                f"{self.name}: trailer says {expected_count} detail records, the file holds {count}"
            )
        for ct in feed.control_totals:
            expected = trailer[ct.trailer_column][0].as_py()
            got = sums[ct.detail_column]
            self.report.control[ct.trailer_column] = str(expected)
            if expected != got:
                raise FileFault(
                    f"{self.name}: hash total {ct.trailer_column} is {expected}, "
                    f"the sum of {ct.detail_column} over the records is {got}"
                )
        return _Verified(header, trailer, count, self._duplicates(keys, numbers))

    def _key_bytes(self, recs: np.ndarray) -> np.ndarray:
        fields = [self.detail.field(c) for c in self.feed.primary_key]
        return np.concatenate([recs[:, f.offset : f.offset + f.size] for f in fields], axis=1)

    def _key_hash(self, recs: np.ndarray) -> np.ndarray:
        """64-bit FNV-1a of each record's key bytes: 8 bytes a record in pass 1, whatever the
        key's width, so duplicate detection stays small at tens of millions of records.
        Candidates are confirmed on the real bytes in pass 2 (a collision is not a duplicate)."""
        h = np.full(len(recs), 0xCBF29CE484222325, dtype=np.uint64)
        prime = np.uint64(0x100000001B3)
        for column in self._key_bytes(recs).T:
            h ^= column.astype(np.uint64)
            h *= prime
        return h

    @staticmethod
    def _duplicates(keys: list[np.ndarray], numbers: list[np.ndarray]) -> dict[int, int]:
        """Record number → record number of the first record with the same key hash."""
        if not keys:
            return {}
        hashes = np.concatenate(keys)
        nums = np.concatenate(numbers)
        order = np.argsort(hashes, kind="stable")
        ordered = hashes[order]
        repeat = np.flatnonzero(ordered[1:] == ordered[:-1]) + 1
        if len(repeat) == 0:
            return {}
        run_start = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        first_pos = run_start[np.searchsorted(run_start, repeat, side="right") - 1]
        return {
            int(nums[order[r]]): int(nums[order[f]]) for r, f in zip(repeat, first_pos, strict=True)
        }

    # ---------- pass 2
    def batches(self) -> Iterator[tuple[str, pa.Table]]:
        """Yield ("data" | "quarantine", table) batches; sets `self.report` as it goes.

        Raises FileFault from verification before anything is yielded.
        """
        v = self.verify()
        self.report.extract_date = v.header[self.feed.header_extract_date][0].as_py()
        position = self.feed.header_journal_sequence
        if position and position in v.header.column_names:
            self.report.journal_sequence = v.header[position][0].as_py()
        detail_b = self.type_bytes["detail"]
        required = set(self.feed.required)
        pending: list[pa.Table] = []
        pending_rows = 0
        first_keys: dict[int, bytes] = {}  # key bytes of first occurrences of repeated keys
        for chunk in self._chunks():
            if self.progress:
                self.progress(chunk.records.nbytes)
            kinds = self._kinds(chunk)
            detail = np.flatnonzero(kinds == detail_b)
            if len(detail) == 0:
                continue
            recs = chunk.records[detail]
            nums = chunk.first_record + detail
            table, faults = decode_chunk(recs, self.detail, self.opts)
            if self.strict and faults:
                entries = fault_entries(faults, recs)
                i = min(entries)  # the first faulty record in file order
                e = entries[i][0]
                raise StrictModeError(
                    f"{self.name}: record {int(nums[i])} at byte offset "
                    f"{(int(nums[i]) - 1) * self.record_length}: field {e['field']} "
                    f"(bytes {e['raw_hex']}): {e['reason']} (--strict)"
                )
            quarantine = np.zeros(len(detail), dtype=bool)
            for f in faults:
                if f.field.column in required:
                    quarantine |= f.bad
            dup_first = self._confirmed_duplicates(v.duplicate_of, recs, nums, first_keys)
            quarantine |= dup_first > 0
            errors = self._errors(faults, recs, len(detail), dup_first)
            self.report.records_read += len(detail)
            if quarantine.any():
                yield "quarantine", self._quarantine_rows(recs, nums, errors, quarantine)
            keep = ~quarantine
            with_errors = np.zeros(len(detail), dtype=bool)
            with_errors[list(errors)] = True
            with_errors &= keep
            self.report.records_quarantined += int(quarantine.sum())
            self.report.records_with_errors += int(with_errors.sum())
            self.report.records_landed += int(keep.sum())
            if errors:
                err_json = [None] * len(detail)
                for i, e in errors.items():
                    err_json[i] = json.dumps(e, ensure_ascii=False)
                err_col = pa.array(err_json, type=pa.string())
            else:
                err_col = pa.nulls(len(detail), type=pa.string())
            table = table.append_column("_errors", err_col)
            table = table.append_column("_record_number", pa.array(nums, type=pa.int64()))
            table = table.filter(pa.array(keep))
            pending.append(table)
            pending_rows += table.num_rows
            if pending_rows >= BATCH_ROWS:
                yield "data", self._finish(pending)
                pending, pending_rows = [], 0
        if pending:
            yield "data", self._finish(pending)
        self.report.status = "loaded"

    def _confirmed_duplicates(
        self,
        candidates: dict[int, int],
        recs: np.ndarray,
        nums: np.ndarray,
        first_keys: dict[int, bytes],
    ) -> np.ndarray:
        """For each record: the record number its key repeats, or 0. Records are seen in file
        order, so a first occurrence's bytes are always stored before its repeats arrive."""
        out = np.zeros(len(nums), dtype=np.int64)
        if not candidates:
            return out
        firsts = set(candidates.values())
        involved = np.flatnonzero(np.isin(nums, np.array([*firsts, *candidates])))
        if len(involved) == 0:
            return out
        keys = self._key_bytes(recs[involved])
        for j, i in enumerate(involved.tolist()):
            n = int(nums[i])
            if n in firsts:
                first_keys[n] = keys[j].tobytes()
            first = candidates.get(n)
            if first is not None and first_keys.get(first) == keys[j].tobytes():
                out[i] = first
        return out

    def _finish(self, tables: list[pa.Table]) -> pa.Table:
        t = pa.concat_tables(tables)
        n = t.num_rows
        t = t.append_column("_source_file", pa.array([self.name] * n, type=pa.string()))
        return t.append_column(
            "_extract_date", pa.array([self.report.extract_date] * n, type=pa.date32())
        )

    def _errors(
        self, faults: list[FieldFault], recs: np.ndarray, n: int, dup_first: np.ndarray
    ) -> dict[int, list[dict]]:
        """Row index → its error entries, for the (few) rows that have any."""
        out = fault_entries(faults, recs)
        for i in np.flatnonzero(dup_first).tolist():
            out.setdefault(i, []).append(
                {
                    "field": ",".join(self.feed.primary_key).upper(),
                    "offset": None,
                    "raw_hex": None,
                    "reason": f"duplicate key: first at record {dup_first[i]}",
                }
            )
        return out

    def _quarantine_rows(
        self, recs: np.ndarray, nums: np.ndarray, errors: dict, mask: np.ndarray
    ) -> pa.Table:
        idx = np.flatnonzero(mask)
        errs = [errors.get(i, []) for i in idx.tolist()]
        return pa.table(
            {
                "source_file": pa.array([self.name] * len(idx), type=pa.string()),
                "feed": pa.array([self.feed.name] * len(idx), type=pa.string()),
                "record_number": pa.array(nums[idx], type=pa.int64()),
                "byte_offset": pa.array((nums[idx] - 1) * self.record_length, type=pa.int64()),
                "fields": pa.array([",".join(e["field"] for e in es) for es in errs]),
                "reason": pa.array(
                    ["; ".join(f"{e['field']}: {e['reason']}" for e in es) for es in errs]
                ),
                "errors": pa.array([json.dumps(es) for es in errs]),
                "raw_record_hex": pa.array([recs[i].tobytes().hex().upper() for i in idx]),
            }
        )


__all__ = ["FileFault", "FileReport", "LegacyFile"]
