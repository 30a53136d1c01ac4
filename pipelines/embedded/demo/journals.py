"""Demo journals: a day of changes to the customer master and the items ledger after the
full extract, as DSPJRN outfile extracts delivered as a sequence of receivers.

Inserts (PT), updates (UB before-image + UP after-image), deletes (DL), most of them under
commitment control (SC … CM), one transaction rolled back (RB), some customers changed
twice, and the last receiver re-delivering the tail of the one before it (as MFT retries
do). The truth records what a correct apply must end with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from pipelines.copybook import parse_copybook
from pipelines.decoding.records.decode import DecodeOptions, decode_chunk
from pipelines.embedded.demo import encoding
from pipelines.embedded.demo.legacy_files import COPYBOOK_DIR
from pipelines.lake.paths import Lake
from pipelines.sources.journals.feeds import JournalFeed, journal_by_name

JOB, USER = "ARNIGHT", "FIBUBATCH"
PROGRAMS = {"customers": "ARCUSTMNT", "open_items": "ARPOSTING"}
# The journal sequence each demo extract was taken at (written in its header). Receivers
# start a few entries before it, as a receiver chain does: those are in the extract already.
EXTRACT_POSITIONS = {"customers": 48_211, "open_items": 310_977}
PRE_POSITION_UPDATES = 2


@dataclass
class _Journal:
    feed: JournalFeed
    layout: object
    image_layout: object
    day: date
    entries: list[bytes] = field(default_factory=list)
    seq: int = 0
    ccid: int = 0
    start: timedelta = timedelta(hours=6)  # time of day of the first entry
    step: timedelta = timedelta(seconds=7)  # between entries

    def entry(self, kind: str, image: np.ndarray | None, ccid: int = 0) -> int:
        self.seq += 1
        cp = self.feed.image.codepage
        rec = encoding.blank_records(1, self.layout.size, cp)
        stamp = (
            datetime.combine(self.day, datetime.min.time(), UTC)
            + self.start
            + self.step * len(self.entries)
        )

        def put(name: str, data: np.ndarray) -> None:
            f = self.layout.field(name)
            rec[:, f.offset : f.offset + f.size] = data

        put("JOSEQN", encoding.zoned(np.array([self.seq]), 10))
        put("JOCODE", encoding.text(["C" if kind in ("SC", "CM", "RB") else "R"], 1, cp))
        put("JOENTT", encoding.text([kind], 2, cp))
        put("JOTSTP", encoding.text([stamp.strftime("%Y-%m-%d-%H.%M.%S.%f")], 26, cp))
        put("JOJOB", encoding.text([JOB], 10, cp))
        put("JOUSER", encoding.text([USER], 10, cp))
        put("JOPGM", encoding.text([PROGRAMS[self.feed.name]], 10, cp))
        put("JOOBJ", encoding.text([self.feed.image.copybook.split(".")[0] + "P"], 10, cp))
        put("JOCCID", encoding.zoned(np.array([ccid]), 10))
        if image is not None:
            esd = self.layout.field("JOESD")
            rec[0, esd.offset : esd.offset + esd.size] = image
        self.entries.append(rec.tobytes())
        return self.seq

    def write(self, folder: Path, receivers: int, prefix: str) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        n = len(self.entries)
        cuts = [round(i * n / receivers) for i in range(receivers + 1)]
        paths = []
        for r in range(receivers):
            lo = cuts[r] if r < receivers - 1 else max(0, cuts[r] - 3)  # re-delivered tail
            path = folder / f"{prefix}_R{r + 1:06d}.dat"
            path.write_bytes(b"".join(self.entries[lo : cuts[r + 1]]))
            paths.append(path)
        return paths


def _valid_images(path: Path, journal: JournalFeed) -> tuple[np.ndarray, object, dict]:
    feed = journal.image
    layout = parse_copybook((COPYBOOK_DIR / feed.copybook).read_text())[feed.detail_record]
    raw = np.frombuffer(path.read_bytes(), dtype=np.uint8).reshape(-1, layout.size)[1:-1]
    table, faults = decode_chunk(
        raw, layout, DecodeOptions(codepage=feed.codepage, dates=feed.dates)
    )
    bad = np.zeros(len(raw), dtype=bool)
    for f in faults:  # a bad key is quarantined at landing: the system never had that row
        if f.field.column in feed.required:
            bad |= f.bad
    keep = ~bad
    values = {
        c: np.array(table.column(c).to_pylist(), dtype=object)[keep] for c in table.column_names
    }
    return raw[keep].copy(), layout, values


def write_journals(lake: Lake, as_of: date, seed: int, receivers: int = 3) -> dict:
    """Journals of the day after `as_of`; returns their truth."""
    rng = np.random.default_rng(seed + 1)
    day = as_of + timedelta(days=1)
    stamp = as_of.strftime("%Y%m%d")
    truth: dict = {}

    # ---------- customer master: credit limit changes, new customers, deletions
    jc = journal_by_name("customers")
    images, layout, values = _valid_images(
        lake.legacy_landing / "customers" / f"ARCUST_D{stamp}.dat", jc
    )
    cp = jc.image.codepage
    entry_layout = parse_copybook((COPYBOOK_DIR / jc.copybook).read_text())[jc.entry_record]
    j = _Journal(jc, entry_layout, layout, day)
    n = len(images)
    credit_f = layout.field("CM-CREDIT-LIMIT")
    name_f = layout.field("CM-NAME")
    key_f = layout.field("CM-CUST-NO")
    vat_f = layout.field("CM-VAT-ID")
    credit = {
        int(k): int(v * 100)
        for k, v in zip(values["cm_cust_no"], values["cm_credit_limit"], strict=True)
    }
    current = {int(k): images[i].copy() for i, k in enumerate(values["cm_cust_no"])}
    keys = sorted(current)
    history: dict[int, list[tuple[str, int]]] = {}
    deleted: list[int] = []
    inserted: list[int] = []

    def with_credit(image: np.ndarray, cents: int) -> np.ndarray:
        out = image.copy()
        out[credit_f.offset : credit_f.offset + credit_f.size] = encoding.packed(
            np.array([cents]), credit_f.size
        )[0]
        return out

    # entries up to the extract's position: changes of the day before, in the extract already
    j.seq = EXTRACT_POSITIONS["customers"] - 2 * PRE_POSITION_UPDATES
    j.day = as_of
    for k in rng.choice(keys, size=PRE_POSITION_UPDATES, replace=False):
        j.entry("UB", with_credit(current[int(k)], credit[int(k)] + 1_000_000))
        j.entry("UP", current[int(k)])
    j.day = day
    ops: list[tuple[str, int]] = []
    updates = rng.choice(keys, size=max(4, n // 40), replace=True)  # some twice
    ops += [("update", int(k)) for k in updates]
    doomed = [
        int(k)
        for k in rng.choice(
            sorted(set(keys) - set(updates.tolist())), size=max(1, n // 300), replace=False
        )
    ]
    ops += [("delete", k) for k in doomed]
    next_key = max(keys) + 1
    ops += [("insert", next_key + i) for i in range(max(2, n // 150))]
    order = rng.permutation(len(ops))
    ops = [ops[i] for i in order]
    rolled_back_key = None
    i = 0
    while i < len(ops):
        size = int(rng.integers(1, 4))
        txn = ops[i : i + size]
        i += size
        use_commit = rng.random() < 0.75
        # exactly one transaction is rolled back: an update half-way through the day
        roll = rolled_back_key is None and i > len(ops) // 2
        if roll:
            i -= size  # this slot's operations follow in the next transaction
            txn = [("update", next(k for k in rng.permutation(keys) if int(k) in current))]
            txn = [(op, int(k)) for op, k in txn]
            use_commit = True
        j.ccid += 1
        ccid = j.ccid if use_commit else 0
        if use_commit:
            j.entry("SC", None, ccid)
        for op, key in txn:
            if op == "update":
                old = current[key]
                cents = max(
                    0, credit[key] + int(rng.choice([-1, 1])) * int(rng.integers(1, 20)) * 500_000
                )
                new = with_credit(old, cents)
                j.entry("UB", old, ccid)
                seq = j.entry("UP", new, ccid)
                if not roll:
                    current[key], credit[key] = new, cents
                    history.setdefault(key, []).append((seq, cents))
            elif op == "delete":
                j.entry("DL", current[key], ccid)
                if not roll:
                    deleted.append(key)
                    del current[key]
                    credit.pop(key)
            else:
                # a template among the customers still present (some were deleted today)
                template = keys[int(rng.integers(0, len(keys)))]
                while template not in current:
                    template = keys[int(rng.integers(0, len(keys)))]
                img = current[template].copy()
                img[key_f.offset : key_f.offset + key_f.size] = encoding.zoned(np.array([key]), 8)[
                    0
                ]
                img[name_f.offset : name_f.offset + name_f.size] = encoding.text(
                    [f"Neukunde {key} GmbH"], name_f.size, cp
                )[0]
                # a new customer's own VAT id is not known yet (never another's)
                img[vat_f.offset : vat_f.offset + vat_f.size] = encoding.text([""], vat_f.size, cp)[
                    0
                ]
                j.entry("PT", img, ccid)
                if not roll:
                    inserted.append(key)
                    current[key] = img
                    credit[key] = int(
                        decode_chunk(img[None, :], layout, DecodeOptions(codepage=cp))[0]
                        .column("cm_credit_limit")[0]
                        .as_py()
                        * 100
                    )
        if use_commit:
            j.entry("RB" if roll else "CM", None, ccid)
        if roll:
            rolled_back_key = txn[0][1]
    j.write(lake.legacy_landing / jc.folder, receivers, "JRNCUST")
    truth["open_items"] = _open_item_journal(lake, as_of, day, rng, receivers)
    status = {
        int(k): str(v) for k, v in zip(values["cm_cust_no"], values["cm_status"], strict=True)
    }
    for key in inserted:
        status[key] = str(
            decode_chunk(current[key][None, :], layout, DecodeOptions(codepage=cp))[0]
            .column("cm_status")[0]
            .as_py()
        )
    truth["customers_after"] = {str(k): status[k] for k in sorted(current)}
    changed = sorted(set(history) | set(inserted))
    truth["customers"] = {
        "entries": len(j.entries),
        "last_sequence": j.seq,
        "credit_cents": {str(k): credit[k] for k in changed if k in credit},
        "history": {str(k): v for k, v in history.items()},
        "deleted": deleted,
        "inserted": inserted,
        "rolled_back_key": rolled_back_key,
        "rows_after": len(current),
        "credit_total_cents_after": int(sum(credit.values())),
        "day": day.isoformat(),
        "extract_position": EXTRACT_POSITIONS["customers"],
    }
    return truth


def _open_item_journal(
    lake: Lake, as_of: date, day: date, rng: np.random.Generator, receivers: int
) -> dict:
    """The items ledger's day: payments posted (open amount reduced, UB + UP), new invoices
    (PT), cleared items archived (DL), in transactions; one posting rolled back."""
    jo = journal_by_name("open_items")
    images, layout, values = _valid_images(
        lake.legacy_landing / "open_items" / f"AROPEN_D{as_of:%Y%m%d}.dat", jo
    )
    cp = jo.image.codepage
    entry_layout = parse_copybook((COPYBOOK_DIR / jo.copybook).read_text())[jo.entry_record]
    j = _Journal(jo, entry_layout, layout, day)
    open_f = layout.field("OI-OPEN-AMOUNT")
    doc_f = layout.field("OI-DOC-NO")
    ref_f = layout.field("OI-CONTRACT-REF")
    docs = [str(d) for d in values["oi_doc_no"]]
    current = {d: images[i].copy() for i, d in enumerate(docs)}
    open_cents = {d: int(v * 100) for d, v in zip(docs, values["oi_open_amount"], strict=True)}
    fields = ("oi_cust_no", "oi_doc_type", "oi_due_date", "oi_currency", "oi_dunning_level")
    facts = {
        d: {f: values[f][i] for f in fields} | {"amount": int(values["oi_amount"][i] * 100)}
        for i, d in enumerate(docs)
    }
    still_open = [d for d in docs if open_cents[d] > 0]
    cleared = [d for d in docs if open_cents[d] == 0]
    n = len(docs)
    # entries up to the extract's position (postings of the day before, in it already)
    j.seq = EXTRACT_POSITIONS["open_items"] - 2 * PRE_POSITION_UPDATES
    j.day = as_of
    for d in rng.choice(still_open, size=PRE_POSITION_UPDATES, replace=False):
        earlier = current[str(d)].copy()
        earlier[open_f.offset : open_f.offset + open_f.size] = encoding.packed(
            np.array([open_cents[str(d)] + 10_000]), open_f.size
        )[0]
        j.entry("UB", earlier)
        j.entry("UP", current[str(d)])
    j.day = day
    ops: list[tuple[str, str]] = [
        ("pay", d)
        for d in rng.choice(
            still_open, size=min(len(still_open), max(4, len(still_open) // 30)), replace=False
        )
    ]
    ops += [
        ("delete", d)
        for d in rng.choice(cleared, size=min(len(cleared), max(2, n // 200)), replace=False)
    ]
    ops += [("insert", f"RN{i:08d}") for i in range(max(2, n // 150))]
    ops = [ops[i] for i in rng.permutation(len(ops))]
    deleted, inserted, rolled_back = [], [], None
    i = 0
    while i < len(ops):
        size = int(rng.integers(1, 4))
        txn, i = ops[i : i + size], i + size
        roll = rolled_back is None and i > len(ops) // 2 and txn[0][0] == "pay"
        j.ccid += 1
        ccid = j.ccid
        j.entry("SC", None, ccid)
        for op, doc in txn:
            if op == "pay":
                old = current[doc]
                left = 0 if rng.random() < 0.7 else open_cents[doc] // 2
                new = old.copy()
                new[open_f.offset : open_f.offset + open_f.size] = encoding.packed(
                    np.array([left]), open_f.size
                )[0]
                j.entry("UB", old, ccid)
                j.entry("UP", new, ccid)
                if not roll:
                    current[doc], open_cents[doc] = new, left
            elif op == "delete":
                j.entry("DL", current[doc], ccid)
                if not roll:
                    deleted.append(doc)
                    del current[doc]
                    open_cents.pop(doc)
            else:
                source = still_open[int(rng.integers(0, len(still_open)))]
                img = current[source].copy()
                img[doc_f.offset : doc_f.offset + doc_f.size] = encoding.text(
                    [doc], doc_f.size, cp
                )[0]
                # a new document bills no contract (the contract's invoices are in the extract)
                img[ref_f.offset : ref_f.offset + ref_f.size] = encoding.text([""], ref_f.size, cp)[
                    0
                ]
                j.entry("PT", img, ccid)
                if not roll:
                    inserted.append(doc)
                    current[doc] = img
                    facts[doc] = dict(facts[source])
                    open_cents[doc] = int(
                        decode_chunk(img[None, :], layout, DecodeOptions(codepage=cp))[0]
                        .column("oi_open_amount")[0]
                        .as_py()
                        * 100
                    )
        j.entry("RB" if roll else "CM", None, ccid)
        if roll:
            rolled_back = txn[0][1]
    j.write(lake.legacy_landing / jo.folder, receivers, "JRNOPEN")
    return {
        "entries": len(j.entries),
        "last_sequence": j.seq,
        "deleted": deleted,
        "inserted": inserted,
        "rolled_back_doc": rolled_back,
        "rows_after": len(current),
        "open_total_cents_after": int(sum(open_cents.values())),
        "extract_position": EXTRACT_POSITIONS["open_items"],
        # the ledger after the journal, for the marts' truth (generate.py)
        "ledger_after": {d: facts[d] | {"open": open_cents[d]} for d in sorted(current)},
    }
