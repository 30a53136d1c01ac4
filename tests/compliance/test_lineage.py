"""Masking by lineage: a model column is personal when the SQL computes it from a personal
source column, however many models away — found by parsing the compiled SQL, not from tags."""

from __future__ import annotations

import pytest

from pipelines.compliance.lineage import (
    LineageError,
    personal_columns_from_manifest,
    source_personal_columns,
)

SOURCE = "delta_scan('/lake/bronze/legacy/customers')"
COLUMNS = {
    SOURCE: ["cm_cust_no", "cm_name", "cm_city", "cm_credit_limit", "cm_email"],
    '"wh"."staging"."stg_customers"': ["customer_number", "name_upper", "limit_eur", "mail"],
    '"wh"."marts"."report"': ["customer_number", "label", "has_mail", "limit_eur", "n"],
}


def _model(name: str, schema: str, sql: str, deps: list[str], columns: dict | None = None):
    return {
        "resource_type": "model",
        "name": name,
        "alias": name,
        "schema": schema,
        "package_name": "p",
        "original_file_path": f"models/{name}.sql",
        "relation_name": f'"wh"."{schema}"."{name}"',
        "compiled_code": sql,
        "depends_on": {"nodes": deps},
        "columns": columns or {},
    }


def _manifest(report_sql: str, report_columns: dict | None = None) -> dict:
    staging = f"""
        with source as (select * from {SOURCE}),
        renamed as (
            select cm_cust_no as customer_number, upper(trim(cm_name)) as name_upper,
                   cm_credit_limit * 1.0 as limit_eur, lower(cm_email) as mail
            from source
        )
        select * from renamed"""
    return {
        "sources": {
            "source.p.legacy.customers": {
                "resource_type": "source",
                "source_name": "legacy",
                "name": "customers",
                "relation_name": SOURCE,
            }
        },
        "nodes": {
            "model.p.stg_customers": _model(
                "stg_customers", "staging", staging, ["source.p.legacy.customers"]
            ),
            "model.p.report": _model(
                "report", "marts", report_sql, ["model.p.stg_customers"], report_columns
            ),
        },
    }


def _trace(manifest: dict):
    return personal_columns_from_manifest(manifest, lambda relation, node: COLUMNS.get(relation))


REPORT = """
    select s.customer_number,
           coalesce(s.name_upper, 'unknown') || ' (' || s.customer_number || ')' as label,
           case when s.mail is not null then true else false end as has_mail,
           s.limit_eur,
           count(*) over (partition by s.customer_number) as n
    from "wh"."staging"."stg_customers" as s"""


def test_personal_data_is_followed_through_every_model() -> None:
    found = _trace(_manifest(REPORT))
    assert found.of("staging", "stg_customers") == ["mail", "name_upper"]
    # a name two models away, concatenated into a label, is still personal;
    # so is a flag computed from the e-mail, until someone declares why it is not
    assert found.of("marts", "report") == ["has_mail", "label"]
    assert found.columns[("marts", "report")]["label"] == ["stg_customers.name_upper"]


def test_a_declared_reason_takes_a_column_out_and_nothing_else_does() -> None:
    columns = {
        "has_mail": {"meta": {"category": "operational", "because": "a flag, not the e-mail"}},
        "label": {"meta": {"category": "operational"}},  # no reason: stays masked
    }
    found = _trace(_manifest(REPORT, columns))
    assert found.of("marts", "report") == ["label"]
    assert found.declared_not_personal[("marts", "report")] == {
        "has_mail": "a flag, not the e-mail"
    }


def test_a_model_the_parser_cannot_follow_is_masked_whole() -> None:
    found = _trace(_manifest("select from where ((("))
    assert found.of("marts", "report") == sorted(COLUMNS['"wh"."marts"."report"'])
    assert ("marts", "report") in found.unparsed


def test_a_relation_dbt_does_not_know_is_masked() -> None:
    """A table written out by hand (or a table function) could hold anything: fail closed."""
    found = _trace(_manifest(REPORT.replace('"wh"."staging"."stg_customers"', "other.t")))
    assert found.of("marts", "report") == sorted(COLUMNS['"wh"."marts"."report"'])
    assert "unknown relation" in found.columns[("marts", "report")]["limit_eur"][0]


def test_a_source_without_a_contract_is_refused() -> None:
    with pytest.raises(LineageError, match="no data contract"):
        source_personal_columns("legacy", "salaries")
    assert "cm_name" in source_personal_columns("legacy", "customers")
    assert source_personal_columns("ops", "restrictions") == set()
