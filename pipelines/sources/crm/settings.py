"""What the CRM source asks for: object types, the properties landed (minimisation), keys."""

from __future__ import annotations

# Only these properties are requested and landed; anything else the CRM holds stays there.
PROPERTIES: dict[str, tuple[str, ...]] = {
    "companies": (
        "name",
        "domain",
        "city",
        "country",
        "industry",
        "vat_id",
        "erp_customer_number",
        "createdate",
        "hs_lastmodifieddate",
    ),
    "contacts": (
        "firstname",
        "lastname",
        "email",
        "phone",
        "jobtitle",
        "createdate",
        "lastmodifieddate",
    ),
    "deals": (
        "dealname",
        "amount",
        "closedate",
        "dealstage",
        "pipeline",
        "deal_currency_code",
        "contract_reference",
        "createdate",
        "hs_lastmodifieddate",
    ),
}
# The association each object carries as a column (its primary company).
ASSOCIATED_COMPANY = {"contacts": "companies", "deals": "companies"}
LAST_MODIFIED = {
    "companies": "hs_lastmodifieddate",
    "contacts": "lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}
PAGE_LIMIT = 100
SEARCH_LIMIT = 200
SEARCH_CAP = 10_000  # HubSpot's search never returns more; we window by timestamp instead
BATCH_ROWS = 10_000
BATCH_READ_LIMIT = 100  # inputs per batch call

# HubSpot's endpoints the source calls ({object_type}: companies, contacts, deals)
OBJECTS = "/crm/v3/objects/{object_type}"
SEARCH = "/crm/v3/objects/{object_type}/search"
ASSOCIATIONS_BATCH_READ = "/crm/v4/associations/{object_type}/companies/batch/read"
DEAL_PIPELINES = "/crm/v3/pipelines/deals"
