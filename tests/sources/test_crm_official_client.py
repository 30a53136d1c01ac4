"""The sandbox as HubSpot's official Python client sees it, with client-side validation on:
list with paging, search, batch update, property and group creation, pipelines, errors.
If the sandbox drifted from the real API's shapes, these calls would fail or loop."""

from __future__ import annotations

import pytest
from hubspot import HubSpot
from hubspot.crm.companies import (
    BatchInputSimplePublicObjectBatchInput,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInput,
)
from hubspot.crm.companies.exceptions import ApiException as CompaniesApiException
from hubspot.crm.properties import PropertyCreate, PropertyGroupCreate
from hubspot.crm.properties.exceptions import ApiException as PropertiesApiException

from pipelines.embedded.crm_sandbox.server import SandboxServer
from pipelines.embedded.crm_sandbox.store import CrmStore

TOKEN = "official-client-token"
N = 730


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory):
    db = tmp_path_factory.mktemp("sandbox") / "sandbox.sqlite"
    store = CrmStore(db)
    stamp = "2026-10-01T08:00:00.000Z"
    store.insert_objects(
        "companies",
        [
            (
                1000 + i,
                {
                    "name": f"Firma {i} GmbH",
                    "city": "Frankfurt" if i % 2 else "München",
                    "hs_lastmodifieddate": f"2026-10-{1 + i % 28:02d}T08:00:00.000Z",
                },
                stamp,
                f"2026-10-{1 + i % 28:02d}T08:00:00.000Z",
                False,
                None,
            )
            for i in range(N)
        ],
    )
    store.close()
    with SandboxServer(db, TOKEN) as server:
        yield server


@pytest.fixture(scope="module")
def client(sandbox: SandboxServer) -> HubSpot:
    return HubSpot(access_token=TOKEN, host=sandbox.base_url, client_side_validation=True)


def test_get_all_pages_through_every_company(client: HubSpot) -> None:
    companies = client.crm.companies.get_all(properties=["name", "city"])
    assert len(companies) == N
    assert len({c.id for c in companies}) == N
    assert companies[0].properties["name"] == "Firma 0 GmbH"
    page = client.crm.companies.basic_api.get_page(limit=10, properties=["name"])
    assert len(page.results) == 10 and page.paging.next.after


def test_search_filters_sorts_and_counts(client: HubSpot) -> None:
    request = PublicObjectSearchRequest(
        filter_groups=[
            FilterGroup(
                filters=[
                    Filter(
                        property_name="hs_lastmodifieddate",
                        operator="GTE",
                        value="2026-10-20T00:00:00.000Z",
                    )
                ]
            )
        ],
        sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
        properties=["name"],
        limit=100,
    )
    found = client.crm.companies.search_api.do_search(public_object_search_request=request)
    want = sum(1 + i % 28 >= 20 for i in range(N))
    assert found.total == want
    stamps = [r.updated_at for r in found.results]
    assert stamps == sorted(stamps)


def test_property_group_and_property_creation(client: HubSpot) -> None:
    groups = client.crm.properties.groups_api
    group = groups.create(
        object_type="companies",
        property_group_create=PropertyGroupCreate(name="finance_test", label="Finance test"),
    )
    assert group.name == "finance_test"
    core = client.crm.properties.core_api
    created = core.create(
        object_type="companies",
        property_create=PropertyCreate(
            name="credit_flag",
            label="Credit flag",
            type="string",
            field_type="text",
            group_name="finance_test",
        ),
    )
    assert created.name == "credit_flag" and created.group_name == "finance_test"
    names = {p.name for p in core.get_all(object_type="companies").results}
    assert {"credit_flag", "name", "hs_lastmodifieddate"} <= names
    with pytest.raises(PropertiesApiException) as dup:
        core.create(
            object_type="companies",
            property_create=PropertyCreate(
                name="credit_flag",
                label="x",
                type="string",
                field_type="text",
                group_name="finance_test",
            ),
        )
    assert dup.value.status == 409


def test_batch_update_sets_values_and_rejects_unknown_properties(client: HubSpot) -> None:
    core = client.crm.properties.core_api
    try:
        core.create(
            object_type="companies",
            property_create=PropertyCreate(
                name="lb_test_status",
                label="Status",
                type="string",
                field_type="text",
                group_name="companyinformation",
            ),
        )
    except PropertiesApiException as exc:
        assert exc.status == 409
    batch = client.crm.companies.batch_api
    inputs = [
        SimplePublicObjectBatchInput(id=str(1000 + i), properties={"lb_test_status": "overdue"})
        for i in range(100)
    ]
    result = batch.update(
        batch_input_simple_public_object_batch_input=BatchInputSimplePublicObjectBatchInput(
            inputs=inputs
        )
    )
    assert result.status == "COMPLETE" and len(result.results) == 100
    one = client.crm.companies.basic_api.get_by_id("1042", properties=["lb_test_status"])
    assert one.properties["lb_test_status"] == "overdue"
    with pytest.raises(CompaniesApiException) as refused:
        batch.update(
            batch_input_simple_public_object_batch_input=BatchInputSimplePublicObjectBatchInput(
                inputs=[SimplePublicObjectBatchInput(id="1001", properties={"nope": "x"})]
            )
        )
    assert refused.value.status == 400 and "PROPERTY_DOESNT_EXIST" in refused.value.body


def test_deal_pipeline_stages_carry_probabilities(client: HubSpot) -> None:
    pipelines = client.crm.pipelines.pipelines_api.get_all(object_type="deals").results
    stages = {s.id: s.metadata for p in pipelines for s in p.stages}
    assert stages["contractsent"]["probability"] == "0.9"
    assert stages["closedwon"]["isClosed"] == "true"


def test_a_wrong_token_is_refused(sandbox: SandboxServer) -> None:
    wrong = HubSpot(access_token="wrong", host=sandbox.base_url)
    with pytest.raises(CompaniesApiException) as denied:
        wrong.crm.companies.basic_api.get_page(limit=1)
    assert denied.value.status == 401
