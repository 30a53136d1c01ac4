"""The whole flow through the real commands on a small demo, checked against the
generator's ground truth (computed from what it wrote, not by the pipeline)."""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal

import duckdb
import polars as pl
from deltalake import DeltaTable

from pipelines.models.warehouse import connect
from tests.conftest import ledgerbridge

BUCKETS = {
    "current": "current_amount",
    "1_30": "overdue_1_30_amount",
    "31_60": "overdue_31_60_amount",
    "61_90": "overdue_61_90_amount",
    "90_plus": "overdue_over_90_amount",
    "credit": "open_credit_amount",
}


def _query(lake, sql: str) -> list[tuple]:
    con = connect(lake / "warehouse.duckdb", read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_open_amounts_and_ageing_match_the_truth(e2e_lake: dict) -> None:
    lake, truth = e2e_lake["lake"], e2e_lake["truth"]
    open_by_cur = dict(
        _query(lake, "select currency_code, sum(open_amount) from marts.open_items group by 1")
    )
    assert open_by_cur == {c: Decimal(v) for c, v in truth["open_amount_by_currency"].items()}
    assert _query(lake, "select count(*) from marts.open_items")[0][0] == truth["open_items_count"]
    cols = ", ".join(f"sum({c})" for c in BUCKETS.values())
    for cur, *sums in _query(lake, f"select currency_code, {cols} from marts.ar_aging group by 1"):
        want = truth["ageing_by_currency"][cur]
        assert [str(s) for s in sums] == [want[b] for b in BUCKETS], cur


def test_documents_payments_and_credit_limits_match_the_truth(e2e_lake: dict) -> None:
    lake, truth = e2e_lake["lake"], e2e_lake["truth"]
    docs = dict(_query(lake, "select document_type, count(*) from marts.invoices group by 1"))
    assert docs == {"invoice": truth["documents"]["RE"], "credit_note": truth["documents"]["GS"]}
    pays = dict(_query(lake, "select currency_code, sum(amount) from marts.payments group by 1"))
    assert pays == {c: Decimal(v) for c, v in truth["payments_by_currency"].items()}
    (credit,) = _query(lake, "select sum(credit_limit) from marts.customers")[0]
    assert credit == Decimal(truth["credit_limit_total"])


def test_reconciliation_and_matching_match_the_truth(e2e_lake: dict) -> None:
    lake, truth = e2e_lake["lake"], e2e_lake["truth"]
    recon = dict(
        _query(
            lake,
            "select reconciliation_status, count(*) from marts.contract_reconciliation group by 1",
        )
    )
    assert recon == {k: v for k, v in truth["reconciliation"].items() if v}
    matching = defaultdict(int)
    for status, method, n in _query(
        lake,
        "select match_status, match_method, count(*) from marts.customer_matching group by all",
    ):
        matching[method or status] += n
    assert matching == {
        "erp_customer_number": truth["matching"]["erp_customer_number"],
        "vat_id": truth["matching"]["vat_id"],
        "crm_only": truth["matching"]["unmatched_crm"],
        "finance_only": truth["matching"]["finance_only"],
    }
    reasons = {
        r
        for (r,) in _query(
            lake,
            "select distinct unmatched_reason "
            "from marts.customer_matching where match_status <> 'matched'",
        )
    }
    assert reasons <= {
        "no_matching_key",
        "vat_id_not_found",
        "erp_customer_number_not_found",
        "erp_customer_number_and_vat_id_not_found",
        "ambiguous_vat_id",
        "customer_already_matched",
        "no_crm_company",
    }


def test_every_legacy_record_is_accounted_for(e2e_lake: dict) -> None:
    lake, truth = e2e_lake["lake"], e2e_lake["truth"]
    rows = _query(
        lake,
        "select feed, records_read, records_landed, records_quarantined "
        "from staging.stg_legacy__file_log",
    )
    assert {feed: read for feed, read, _, _ in rows} == {
        f: t["records"] for f, t in truth["files"].items()
    }
    assert all(read == landed + q for _, read, landed, q in rows)
    q = dict(_query(lake, "select feed, count(*) from staging.stg_legacy__quarantine group by 1"))
    assert q == {f: t["quarantined"] for f, t in truth["files"].items() if t["quarantined"]}


def test_money_is_decimal_everywhere(e2e_lake: dict) -> None:
    lake = e2e_lake["lake"]
    types = _query(
        lake,
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_schema = 'marts' and (column_name like '%amount%' "
        "or column_name like 'credit_limit%')",
    )
    assert types and all(t.startswith("DECIMAL") for _, _, t in types), types


def test_gold_delta_tables_equal_the_marts(e2e_lake: dict) -> None:
    lake = e2e_lake["lake"]
    for mart in (
        "customer_financial_status",
        "ar_aging",
        "contract_reconciliation",
        "open_items",
        "customers",
    ):
        gold = pl.read_delta(str(lake / "gold" / mart))
        (n,) = _query(lake, f"select count(*) from marts.{mart}")[0]
        assert gold.height == n
    gold_open = DeltaTable(str(lake / "gold" / "open_items")).to_pyarrow_table()
    assert str(gold_open.schema.field("open_amount").type) == "decimal128(18, 2)"
    con = duckdb.connect()
    total = con.execute("select sum(open_amount) from gold_open").fetchone()[0]
    (wh,) = _query(lake, "select sum(open_amount) from marts.open_items")[0]
    assert total == wh


def test_summary_is_printed(e2e_lake: dict) -> None:
    out = e2e_lake["first_run"].stdout
    for needle in (
        "ledgerbridge run summary",
        "Customer matching",
        "Contract reconciliation",
        "Open AR",
        "peak memory",
        "ledgerbridge --lake",
    ):
        assert needle in out


def test_summary_accounts_for_every_journal_entry_per_receiver(e2e_lake: dict) -> None:
    """read = applied + quarantined + in the extract already + … for every receiver, one
    line each, in the summary a person reads."""
    import re

    out = e2e_lake["first_run"].stdout
    receivers = sorted(
        p.name for p in (e2e_lake["lake"] / "landing" / "legacy" / "journals").rglob("JRN*")
    )
    assert receivers
    for name in receivers:
        line = re.search(rf"{re.escape(name)}: ([\d,]+) read = (.+)", out)
        assert line, f"no summary line for receiver {name}"
        parts = [int(p.split()[0].replace(",", "")) for p in line.group(2).split(" + ")]
        assert int(line.group(1).replace(",", "")) == sum(parts) > 0
        assert "applied" in line.group(2)


def test_a_second_run_with_nothing_new_writes_nothing(e2e_lake: dict) -> None:
    lake = e2e_lake["lake"]
    counts = (
        "select (select count(*) from marts.invoices), "
        "(select count(*) from marts.customers), "
        "(select count(*) from staging.stg_crm__companies), "
        "(select count(*) from staging.stg_legacy__quarantine), "
        "(select sum(open_amount_eur) from marts.customer_financial_status)"
    )
    before = _query(lake, counts)

    def versions() -> dict[str, int]:
        return {
            str(p.parent.relative_to(lake)): DeltaTable(str(p.parent)).version()
            for p in lake.rglob("_delta_log")
            if p.parent.relative_to(lake).parts[0] in ("bronze", "gold")
        }

    tables = versions()
    second = ledgerbridge(lake, "run")
    assert "already processed: 3" in second.stdout
    assert "Nothing new" in second.stdout
    assert versions() == tables  # no new Delta version in bronze or gold
    assert _query(lake, counts) == before
    assert (
        _query(lake, "select count(*) - count(distinct document_number) from marts.invoices")[0][0]
        == 0
    )


def test_sql_answers_in_json_and_a_bad_query_is_one_line(e2e_lake: dict) -> None:
    lake = e2e_lake["lake"]
    out = ledgerbridge(
        lake,
        "sql",
        "select payment_status, count(*) as n from "
        "marts.customer_financial_status group by 1 order by 1",
        "--format",
        "json",
    )
    rows = json.loads(out.stdout)
    assert {r["payment_status"] for r in rows} <= {"current", "overdue", "in_dunning", "blocked"}
    assert sum(r["n"] for r in rows) == _query(lake, "select count(*) from marts.customers")[0][0]
    bad = ledgerbridge(lake, "sql", "select * from no_such_table", check=False)
    assert bad.returncode != 0 and "query failed" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_revenue_forecast_weights_open_deals_by_stage_probability(e2e_lake: dict) -> None:
    """Recomputed independently from the CRM sandbox's deals, the portal's stage
    probabilities and the seeded rates, in Python decimals."""
    import csv
    from decimal import ROUND_HALF_UP

    from pipelines.embedded.crm_sandbox.portal import DEAL_STAGES
    from pipelines.embedded.crm_sandbox.store import CrmStore
    from tests.conftest import ROOT

    lake = e2e_lake["lake"]
    rates = {
        r["currency_code"]: Decimal(r["units_per_eur"])
        for r in csv.DictReader((ROOT / "seeds" / "currencies.csv").open())
    }
    probability = {sid: Decimal(str(p)) for sid, _, p, closed in DEAL_STAGES if not closed}
    cent = Decimal("0.01")
    store = CrmStore(lake / "landing" / "crm" / "sandbox.sqlite")
    try:
        deals = store.page("deals", 0, 10**9, False)
    finally:
        store.close()
    by_month: dict[str, Decimal] = defaultdict(Decimal)
    for d in deals:
        p = d["properties"]
        if p["dealstage"] not in probability:
            continue
        eur = (Decimal(p["amount"]) / rates[p["deal_currency_code"]]).quantize(cent, ROUND_HALF_UP)
        by_month[p["closedate"][:7]] += (eur * probability[p["dealstage"]]).quantize(
            cent, ROUND_HALF_UP
        )
    got = {
        str(m)[:7]: w
        for m, w in _query(
            lake,
            "select forecast_month, weighted_pipeline_eur from marts.revenue_forecast_monthly "
            "where weighted_pipeline_eur <> 0",
        )
    }
    assert got == dict(by_month) and len(got) > 3
    ((invoiced, forecast_invoiced),) = _query(
        lake,
        "select (select sum(amount_eur) from marts.invoices where document_date is not null),"
        " (select sum(invoiced_revenue_eur) from marts.revenue_forecast)",
    )
    assert invoiced == forecast_invoiced
    ((per_customer, total),) = _query(
        lake,
        "select (select sum(forecast_revenue_eur) from marts.revenue_forecast),"
        " (select sum(forecast_revenue_eur) from marts.revenue_forecast_monthly)",
    )
    assert per_customer == total


def test_history_answers_a_customers_credit_limit_on_a_date(e2e_lake: dict) -> None:
    """customer_history, built from the applied journals: the limit before a change is
    the baseline's, after it the journal's; a deleted customer has no current version."""
    lake, truth = e2e_lake["lake"], e2e_lake["truth"]["journals"]["customers"]
    key, changes = next(iter(truth["history"].items()))
    ((at,),) = _query(
        lake,
        "select valid_from from marts.customer_history "
        f"where customer_number = {key} and change_sequence = {changes[0][0]}",
    )

    def limit_on(moment: str) -> Decimal:
        ((value,),) = _query(
            lake,
            "select credit_limit from marts.customer_history "
            f"where customer_number = {key} and valid_from <= timestamp '{moment}' "
            f"and (valid_to > timestamp '{moment}' or valid_to is null)",
        )
        return value

    before = limit_on("2026-10-30 12:00:00")
    assert limit_on(str(at)) == Decimal(changes[0][1]) / 100
    assert limit_on("2099-01-01 00:00:00") == Decimal(changes[-1][1]) / 100
    extract = DeltaTable(str(lake / "bronze" / "legacy" / "customers")).to_pyarrow_table(
        filters=[("cm_cust_no", "=", int(key))]
    )
    assert before == extract["cm_credit_limit"][0].as_py()  # the extract, before the journal
    gone = truth["deleted"][0]
    assert _query(
        lake,
        f"select count(*) filter (where is_current), count(*) filter (where is_deleted) "
        f"from marts.customer_history where customer_number = {gone}",
    ) == [(0, 1)]
    ((rows,),) = _query(lake, "select count(*) from marts.customers")
    assert rows == truth["rows_after"]


def test_the_marts_show_the_state_after_the_journals(e2e_lake: dict) -> None:
    """Credit limits changed, customers inserted and deleted, documents inserted and
    archived by the journals: every mart shows them, not the extract alone."""
    lake, truth = e2e_lake["lake"], e2e_lake["truth"]
    cust, items = truth["journals"]["customers"], truth["journals"]["open_items"]
    limits = {
        str(k): int(v * 100)
        for k, v in _query(lake, "select customer_number, credit_limit from marts.customers")
    }
    assert {k: limits[k] for k in cust["credit_cents"]} == cust["credit_cents"]
    assert set(map(str, cust["inserted"])) <= set(limits)
    assert not set(map(str, cust["deleted"])) & set(limits)
    status_keys = {
        str(k)
        for (k,) in _query(lake, "select customer_number from marts.customer_financial_status")
    }
    assert status_keys == set(limits)
    docs = dict(_query(lake, "select document_number, is_archived from marts.invoices"))
    assert all(docs[d] is False for d in items["inserted"])
    assert all(docs[d] is True for d in items["deleted"])  # archived: kept as history
    open_docs = {d for (d,) in _query(lake, "select document_number from marts.open_items")}
    assert not set(items["deleted"]) & open_docs
    ((as_of,),) = _query(lake, "select distinct as_of_date from marts.open_items")
    assert str(as_of) == truth["as_of_after_journals"]
    positions = dict(
        _query(
            lake, "select journal_name, baseline_sequence from staging.stg_legacy_cdc__positions"
        )
    )
    assert positions == {
        "customers": cust["extract_position"],
        "open_items": items["extract_position"],
    }
    # entries at or before the extract's position are in it already: never applied
    ((first,),) = _query(
        lake, "select min(change_sequence) from staging.stg_legacy_cdc__customer_changes"
    )
    assert first > cust["extract_position"]


def test_payment_statuses_follow_the_ar_rules_and_match_the_truth(e2e_lake: dict) -> None:
    lake, truth = e2e_lake["lake"], e2e_lake["truth"]
    statuses = dict(
        _query(
            lake, "select payment_status, count(*) from marts.customer_financial_status group by 1"
        )
    )
    assert statuses == truth["payment_status"]
    bad = _query(
        lake,
        "select customer_number from marts.customer_financial_status where "
        "overdue_amount_eur < 0 or credit_utilisation_percent < 0 "
        "or (open_amount_eur <= 0 and payment_status in ('overdue', 'in_dunning'))",
    )
    assert bad == []
    # a world a credit controller finds plausible, and the truth file says so
    world = truth["world"]
    assert world["customers_current_percent"] > 75
    assert world["customers_in_dunning_percent"] < 10
    assert 25 <= world["dso_days"] <= 60
    assert world["overdue_share_of_open_ar_percent"] < 50
    ((open_eur, overdue_eur),) = _query(
        lake,
        "select sum(open_amount_eur), sum(overdue_amount_eur) from marts.customer_financial_status",
    )
    assert overdue_eur < open_eur * Decimal("0.5")


def test_credit_notes_are_credits_not_overdue_debts(e2e_lake: dict) -> None:
    """A customer holding credit notes: they reduce the balance, are never overdue."""
    lake = e2e_lake["lake"]
    rows = _query(
        lake,
        "select s.customer_number, s.open_amount_eur, s.overdue_amount_eur, s.payment_status, "
        "sum(o.open_amount_eur) filter (where o.is_credit) as credits, "
        "sum(o.open_amount_eur) filter (where o.is_past_due) as past_due "
        "from marts.customer_financial_status s "
        "join marts.open_items o using (customer_number) "
        "group by all having credits < 0",
    )
    assert rows, "the demo has open credit notes"
    for _, open_eur, overdue, status, credits, past_due in rows:
        assert overdue == max(Decimal(0), (past_due or Decimal(0)) + credits)
        if open_eur <= 0:
            assert status in ("current", "blocked") and overdue == 0
