"""The demo's truth after the day's journals: what the marts must show, computed in Python
from the generator's own values (never from SQL), by the AR rules the README states.

The legacy state is the full extract plus the journal after its position, so the truth is
the extract's world moved by the journal: credit limits changed, customers inserted and
deleted, payments posted, documents added and archived, ageing counted at the journal's day.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from pipelines.config import CHECKOUT_ROOT

BUCKETS = (
    ("current", -(10**9), 0),
    ("1_30", 1, 30),
    ("31_60", 31, 60),
    ("61_90", 61, 90),
    ("90_plus", 91, 10**9),
)


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def _rates() -> dict[str, Decimal]:
    with (CHECKOUT_ROOT / "seeds" / "currencies.csv").open() as fh:
        return {r["currency_code"]: Decimal(r["units_per_eur"]) for r in csv.DictReader(fh)}


def _eur(cents: int, rate: Decimal) -> Decimal:
    return (Decimal(cents) / 100 / rate).quantize(Decimal("0.01"), ROUND_HALF_UP)


def payment_status(blocked: bool, items: list[dict], as_of: date) -> tuple[str, int]:
    """(status, overdue cents) of one customer by the README's AR rules; all of a customer's
    items are in the customer's currency."""
    net = sum(i["open"] for i in items)
    past_due = [i for i in items if i["open"] > 0 and (as_of - i["oi_due_date"]).days > 0]
    credits = sum(i["open"] for i in items if i["open"] < 0)
    overdue = max(0, sum(i["open"] for i in past_due) + credits)
    dunning = max((int(i["oi_dunning_level"] or 0) for i in past_due), default=0)
    if blocked:
        return "blocked", overdue
    if net <= 0:
        return "current", 0
    if overdue > 0 and dunning >= 2:
        return "in_dunning", overdue
    if overdue > 0:
        return "overdue", overdue
    return "current", 0


def after_journals(
    journals: dict,
    documents_landed: dict[str, int],
    matching: dict[str, int],
    match_of: dict[int, str],
    revenue_365_cents: dict[str, int],
) -> dict:
    """The marts' truth after the journals; pops the bulky per-row parts of `journals`."""
    ledger: dict[str, dict] = journals["open_items"].pop("ledger_after")
    customers: dict[str, str] = journals.pop("customers_after")
    as_of = date.fromisoformat(journals["customers"]["day"])
    rates = _rates()
    open_by_cur: dict[str, int] = defaultdict(int)
    ageing: dict[str, dict[str, int]] = defaultdict(lambda: {b: 0 for b, *_ in [*BUCKETS]})
    by_customer: dict[int, list[dict]] = defaultdict(list)
    open_count = 0
    for doc in ledger.values():
        doc["oi_due_date"] = (
            doc["oi_due_date"]
            if isinstance(doc["oi_due_date"], date)
            else date.fromisoformat(str(doc["oi_due_date"]))
        )
        by_customer[int(doc["oi_cust_no"])].append(doc)
        if doc["open"] == 0:
            continue
        open_count += 1
        cur = doc["oi_currency"]
        open_by_cur[cur] += doc["open"]
        buckets = ageing[cur]
        buckets.setdefault("credit", 0)
        if doc["open"] < 0:
            buckets["credit"] += doc["open"]
            continue
        days = (as_of - doc["oi_due_date"]).days
        for bucket, lo, hi in BUCKETS:
            if lo <= days <= hi:
                buckets[bucket] += doc["open"]
    for b in ageing.values():
        b.setdefault("credit", 0)
    statuses: dict[str, int] = defaultdict(int)
    overdue_eur = open_eur = Decimal(0)
    for key, code in customers.items():
        items = [i for i in by_customer.get(int(key), []) if i["open"] != 0]
        status, overdue = payment_status(code == "B", items, as_of)
        statuses[status] += 1
        if items:
            rate = rates[items[0]["oi_currency"]]
            overdue_eur += _eur(overdue, rate)
    for cur, cents in open_by_cur.items():
        open_eur += _eur(cents, rates[cur])
    revenue_eur = sum(_eur(c, rates[cur]) for cur, c in revenue_365_cents.items())
    inserted = journals["open_items"]["inserted"]
    documents = dict(documents_landed)
    for doc in inserted:
        kind = ledger[doc]["oi_doc_type"] if doc in ledger else "RE"
        documents[kind] = documents.get(kind, 0) + 1
    matching = dict(matching)
    for key in journals["customers"]["deleted"]:
        method = match_of.get(int(key))
        if method:
            matching[method] -= 1
            matching["unmatched_crm"] += 1
        else:
            matching["finance_only"] -= 1
    matching["finance_only"] += len(journals["customers"]["inserted"])
    n = sum(statuses.values())
    return {
        "as_of_after_journals": as_of.isoformat(),
        "open_items_count": open_count,
        "open_amount_by_currency": {c: money(v) for c, v in sorted(open_by_cur.items())},
        "ageing_by_currency": {
            c: {b: money(v) for b, v in a.items()} for c, a in sorted(ageing.items())
        },
        "documents": documents,
        "credit_limit_total": money(journals["customers"]["credit_total_cents_after"]),
        "customers_after_journals": n,
        "payment_status": dict(sorted(statuses.items())),
        "matching": matching,
        # is this a world a credit controller finds plausible?
        "world": {
            "customers_current_percent": round(100 * statuses["current"] / n, 1),
            "customers_overdue_percent": round(100 * statuses["overdue"] / n, 1),
            "customers_in_dunning_percent": round(100 * statuses["in_dunning"] / n, 1),
            "overdue_share_of_open_ar_percent": float(round(100 * overdue_eur / open_eur, 1)),
            "dso_days": float(round(open_eur / revenue_eur * 365, 1)),
            "open_ar_eur": str(open_eur),
        },
    }
