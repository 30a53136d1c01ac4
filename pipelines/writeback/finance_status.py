"""What the CRM gets: the finance status properties and their values per CRM company.

Values come from the `customer_financial_status` mart and only for companies matched to a
finance customer; an unmatched company is never written. Values are rendered as the CRM
stores them (text), exactly: amounts with two decimals, dates ISO, so comparing them with
what was pushed before tells reliably what changed.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pipelines.crm.connector import PropertySpec
from pipelines.lake.paths import Lake

GROUP = ("ledgerbridge_finance", "Finance status (ledgerbridge)")
PROPERTY_PREFIX = "lb_"  # every property ledgerbridge writes starts so
PAYMENT_STATUSES = ("current", "overdue", "in_dunning", "blocked")

PROPERTIES: tuple[PropertySpec, ...] = (
    PropertySpec(
        "lb_finance_customer_number",
        "Finance customer number",
        "string",
        "text",
        "Customer number in the finance system (matched by ledgerbridge).",
    ),
    PropertySpec(
        "lb_payment_status",
        "Payment status",
        "enumeration",
        "select",
        "current, overdue (past due), in_dunning (dunning level 2+), blocked (credit stop).",
        PAYMENT_STATUSES,
    ),
    PropertySpec(
        "lb_open_amount_eur", "Open amount (EUR)", "number", "number", "Open receivables, EUR."
    ),
    PropertySpec(
        "lb_overdue_amount_eur", "Overdue amount (EUR)", "number", "number", "Past-due part, EUR."
    ),
    PropertySpec(
        "lb_days_overdue", "Days overdue", "number", "number", "Days past due of the oldest item."
    ),
    PropertySpec(
        "lb_credit_limit_eur", "Credit limit (EUR)", "number", "number", "Credit limit, EUR."
    ),
    PropertySpec(
        "lb_credit_utilisation_pct",
        "Credit utilisation (%)",
        "number",
        "number",
        "Open amount as a percentage of the credit limit.",
    ),
    PropertySpec(
        "lb_last_payment_date",
        "Last payment date",
        "date",
        "date",
        "Value date of the last payment.",
    ),
)

_QUERY = """
select
    crm_company_id, customer_number, payment_status, open_amount_eur, overdue_amount_eur,
    max_days_past_due, credit_limit_eur, credit_utilisation_percent, last_payment_date
from marts.customer_financial_status
where crm_company_id is not null
order by crm_company_id
"""


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def desired_values(lake: Lake) -> dict[str, tuple[int, dict[str, str]]]:
    """CRM company id → (finance customer number, property → value) from the marts."""
    from pipelines.models.warehouse import connect

    con = connect(lake.warehouse, read_only=True)
    try:
        rows = con.execute(_QUERY).fetchall()
    finally:
        con.close()
    out: dict[str, tuple[int, dict[str, str]]] = {}
    for company, customer, status, open_, overdue, days, limit, util, last in rows:
        out[str(company)] = (
            customer,
            {
                "lb_finance_customer_number": str(customer),
                "lb_payment_status": status,
                "lb_open_amount_eur": _text(open_),
                "lb_overdue_amount_eur": _text(overdue),
                "lb_days_overdue": _text(days),
                "lb_credit_limit_eur": _text(limit),
                "lb_credit_utilisation_pct": _text(util),
                "lb_last_payment_date": _text(last),
            },
        )
    return out
