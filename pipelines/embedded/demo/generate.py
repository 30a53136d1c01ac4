"""`ledgerbridge demo`: write the demo legacy extracts, fill the CRM sandbox, record the truth."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from datetime import date

import numpy as np

from pipelines.embedded.crm_sandbox.store import CrmStore
from pipelines.embedded.demo import legacy_files as lf
from pipelines.embedded.demo.truth import BUCKETS, money
from pipelines.embedded.demo.world import RECON_STATUSES, Counters, generate_block, to_days
from pipelines.lake.paths import Lake
from pipelines.lake.storage import copy_file, write_text_atomically
from pipelines.sources.legacy.feeds import feed_by_name

DEFAULT_AS_OF = date(2026, 10, 30)
BLOCK = 20_000


def _spread(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    return np.sort(rng.choice(n, size=min(k, n), replace=False)) if n else np.zeros(0, np.int64)


def demo_exists(lake: Lake) -> bool:
    return lake.demo_truth.exists()


def generate_demo(
    lake: Lake,
    customers: int = 3000,
    seed: int = 42,
    as_of: date = DEFAULT_AS_OF,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Generate everything; returns the truth that is also written to `lake.demo_truth`."""
    lake.ensure()
    rng = np.random.default_rng(seed)
    stamp = as_of.strftime("%Y%m%d")
    legacy = lake.legacy_landing
    cb_dir = legacy / "copybooks"
    for name in ("customers", "open_items", "payments"):
        copybook = feed_by_name(name).copybook
        copy_file(lf.COPYBOOK_DIR / copybook, cb_dir / copybook)
    lake.crm_sandbox_db.parent.mkdir(parents=True, exist_ok=True)
    if lake.crm_sandbox_db.exists():
        lake.crm_sandbox_db.unlink()
    store = CrmStore(lake.crm_sandbox_db)
    from pipelines.embedded.demo.journals import EXTRACT_POSITIONS

    writers = {
        "customers": lf.ExtractWriter(
            feed_by_name("customers"),
            legacy / "customers" / f"ARCUST_D{stamp}.dat",
            as_of,
            journal_sequence=EXTRACT_POSITIONS["customers"],
        ),
        "open_items": lf.ExtractWriter(
            feed_by_name("open_items"),
            legacy / "open_items" / f"AROPEN_D{stamp}.dat",
            as_of,
            journal_sequence=EXTRACT_POSITIONS["open_items"],
        ),
        "payments": lf.ExtractWriter(
            feed_by_name("payments"), legacy / "payments" / f"ARPAYM_D{stamp}.dat", as_of
        ),
    }
    ctr = Counters()
    files = {k: {"records": 0, "quarantined": 0, "with_errors": 0} for k in writers}
    open_by_cur: dict[str, int] = defaultdict(int)
    ageing: dict[str, dict[str, int]] = defaultdict(lambda: {b: 0 for b, _, _ in BUCKETS})
    pay_by_cur: dict[str, int] = defaultdict(int)
    docs = {"RE": 0, "GS": 0}
    open_count = 0
    credit_total = 0
    recon = dict.fromkeys(RECON_STATUSES, 0)
    matching = {"erp_customer_number": 0, "vat_id": 0, "unmatched_crm": 0, "finance_only": 0}
    match_of: dict[int, str] = {}  # customer number → how a CRM company matches it
    revenue_365: dict[str, int] = defaultdict(int)  # invoiced in the year before as-of
    as_of_days = to_days(as_of)

    for start in range(0, customers, BLOCK):
        n = min(BLOCK, customers - start)
        b = generate_block(rng, start, n, as_of, ctr)

        # customers: a few bad keys (quarantined) and bad created dates (landed with an error)
        w = writers["customers"]
        rec = lf.customer_records(w, b.customers)
        k_bad = _spread(rng, n, max(1, n // 1000))
        d_bad = np.setdiff1d(_spread(rng, n, max(1, n // 1000)), k_bad)
        lf.corrupt_zoned_digit(w, rec, k_bad, "cm_cust_no")
        lf.corrupt_date(w, rec, d_bad, "cm_created", packed=True)
        w.write(rec, {"cm_credit_limit": b.customers["credit"]})
        valid_cust = np.ones(n, bool)
        valid_cust[k_bad] = False
        files["customers"]["records"] += n
        files["customers"]["quarantined"] += len(k_bad)
        files["customers"]["with_errors"] += len(d_bad)
        credit_total += int(b.customers["credit"][valid_cust].sum())

        # open items: corrupt only documents without a contract
        w = writers["open_items"]
        it = b.items
        ni = len(it["cust_no"])
        rec = lf.item_records(w, it)
        plain = np.flatnonzero(~it["is_contract"])
        due_bad = plain[_spread(rng, len(plain), max(1, ni // 2000))]
        rest = np.setdiff1d(plain, due_bad)
        doc_bad = rest[_spread(rng, len(rest), max(1, ni // 2000))]
        lf.corrupt_packed_nibble(w, rec, due_bad, "oi_due_date")
        lf.corrupt_date(w, rec, doc_bad, "oi_doc_date", packed=False)
        w.write(rec, {"oi_amount": it["amount"], "oi_open_amount": it["open"]})
        files["open_items"]["records"] += ni
        files["open_items"]["quarantined"] += len(due_bad)
        files["open_items"]["with_errors"] += len(doc_bad)
        landed = np.ones(ni, bool)
        landed[due_bad] = False
        for t in ("RE", "GS"):
            docs[t] += int(((it["doc_type"] == t) & landed).sum())
        recent = landed & (it["doc_date"] > as_of_days - 365)
        for cur in np.unique(it["currency"]):
            revenue_365[cur] += int(it["amount"][recent & (it["currency"] == cur)].sum())
        is_open = landed & (it["open"] != 0)
        open_count += int(is_open.sum())
        days_over = as_of_days - it["due"]
        for cur in np.unique(it["currency"]):
            m = is_open & (it["currency"] == cur)
            open_by_cur[cur] += int(it["open"][m].sum())
            for bucket, lo, hi in BUCKETS:
                sel = m & (days_over >= lo) & (days_over <= hi)
                ageing[cur][bucket] += int(it["open"][sel].sum())

        # payments: a few bad customer numbers (quarantined)
        w = writers["payments"]
        p = b.payments
        npay = len(p["cust_no"])
        rec = lf.payment_records(w, p)
        p_bad = _spread(rng, npay, max(1, npay // 2000))
        lf.corrupt_zoned_digit(w, rec, p_bad, "pm_cust_no")
        w.write(rec, {"pm_amount": p["amount"]})
        files["payments"]["records"] += npay
        files["payments"]["quarantined"] += len(p_bad)
        p_ok = np.ones(npay, bool)
        p_ok[p_bad] = False
        for cur in np.unique(p["currency"]):
            pay_by_cur[cur] += int(p["amount"][p_ok & (p["currency"] == cur)].sum())

        # CRM
        store.insert_objects("companies", b.companies)
        store.insert_objects("contacts", b.contacts)
        store.insert_objects("deals", b.deals)
        store.insert_associations(b.associations)
        t = b.truth
        ok = valid_cust[t["cust_of_comp"]]
        by_erp = t["erp_ok"] & ok
        by_vat = ~by_erp & t["vat_ok"] & ok
        for j in np.flatnonzero(by_erp | by_vat):
            cust = int(b.customers["cust_no"][t["cust_of_comp"][j]])
            match_of[cust] = "erp_customer_number" if by_erp[j] else "vat_id"
        matching["erp_customer_number"] += int(by_erp.sum())
        matching["vat_id"] += int(by_vat.sum())
        matching["unmatched_crm"] += int((~by_erp & ~by_vat).sum()) + t["n_prospects_active"]
        matching["finance_only"] += int(valid_cust.sum() - by_erp.sum() - by_vat.sum())
        for status in RECON_STATUSES:
            recon[status] += int((t["recon"] == status).sum())
        if progress:
            progress(n)

    for w in writers.values():
        w.close()
    from pipelines.embedded.demo.journals import write_journals

    journals = write_journals(lake, as_of, seed)
    from pipelines.embedded.demo.truth import after_journals

    truth = {
        "as_of": as_of.isoformat(),
        "seed": seed,
        "customers": customers,
        "files": files,
        # as the full extracts delivered them, before the day's journals
        "extract": {
            "open_items_count": open_count,
            "open_amount_by_currency": {c: money(v) for c, v in sorted(open_by_cur.items())},
            "ageing_by_currency": {
                c: {b: money(v) for b, v in a.items()} for c, a in sorted(ageing.items())
            },
            "documents": dict(docs),
            "credit_limit_total": money(credit_total),
            "matching": dict(matching),
        },
        # the legacy state the marts must show: the extracts plus the journals after them
        **after_journals(journals, docs, matching, match_of, revenue_365),
        "payments_by_currency": {c: money(v) for c, v in sorted(pay_by_cur.items())},
        "reconciliation": recon,
        "journals": journals,
        "crm": {
            t: {"active": store.count(t, False), "archived": store.count(t, True)}
            for t in ("companies", "contacts", "deals")
        },
    }
    store.close()
    write_text_atomically(lake.demo_truth, json.dumps(truth, indent=2, ensure_ascii=False))
    return truth
