"""A sandbox a sales team could work in, driven by HubSpot's official client with
client-side validation on: create, update (PATCH), archive — single and batch — batch read,
search on any property with HubSpot's operators and sorts, and v4 associations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hubspot import HubSpot
from hubspot.crm.companies import (
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.companies.exceptions import ApiException

from pipelines.embedded.crm_sandbox.server import SandboxServer
from pipelines.embedded.crm_sandbox.store import CrmStore

TOKEN = "sales-team-token"
CITIES = ("Frankfurt am Main", "München", "Köln", "Hamburg")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[HubSpot]:
    db = tmp_path / "sandbox.sqlite"
    store = CrmStore(db)
    store.insert_objects(
        "companies",
        [
            (
                100 + i,
                {
                    "name": f"Firma {i} GmbH",
                    "city": CITIES[i % 4],
                    "annualrevenue": str(1000 * i),
                    "domain": f"firma{i}.example.de" if i % 3 else None,
                    "hs_lastmodifieddate": f"2026-10-{1 + i:02d}T08:00:00.000Z",
                },
                "2026-09-01T08:00:00.000Z",
                f"2026-10-{1 + i:02d}T08:00:00.000Z",
                False,
                None,
            )
            for i in range(20)
        ],
    )
    store.insert_objects(
        "contacts",
        [(7, {"email": "anna@firma1.example.de"}, "2026-09-01T08:00:00.000Z",
          "2026-09-01T08:00:00.000Z", False, None)],
    )  # fmt: skip
    store.insert_associations([("contacts", 7, "companies", 101)])
    store.close()
    with SandboxServer(db, TOKEN) as server:
        yield HubSpot(access_token=TOKEN, host=server.base_url, client_side_validation=True)


def _search(client: HubSpot, *filters: Filter, sorts: list | None = None, groups=None) -> list:
    request = PublicObjectSearchRequest(
        filter_groups=groups or [FilterGroup(filters=list(filters))],
        sorts=sorts or [],
        properties=["name", "city", "annualrevenue", "domain"],
        limit=100,
    )
    return client.crm.companies.search_api.do_search(public_object_search_request=request).results


def test_create_update_and_archive_one_company(client: HubSpot) -> None:
    api = client.crm.companies.basic_api
    made = api.create(
        simple_public_object_input_for_create=SimplePublicObjectInputForCreate(
            properties={"name": "Neu AG", "city": "Bonn"}
        )
    )
    assert made.properties["name"] == "Neu AG" and int(made.id) > 119
    changed = api.update(
        company_id=made.id,
        simple_public_object_input=SimplePublicObjectInput(properties={"city": "Berlin"}),
    )
    assert changed.properties["city"] == "Berlin"
    assert changed.updated_at >= made.updated_at
    read = api.get_by_id(company_id=made.id, properties=["name", "city"])
    assert (read.properties["name"], read.properties["city"]) == ("Neu AG", "Berlin")
    api.archive(company_id=made.id)
    with pytest.raises(ApiException) as gone:
        api.get_by_id(company_id=made.id)
    assert gone.value.status == 404
    assert api.get_by_id(company_id=made.id, archived=True).archived is True
    with pytest.raises(ApiException) as bad:
        api.update(
            company_id="105",
            simple_public_object_input=SimplePublicObjectInput(properties={"no_such": "x"}),
        )
    assert bad.value.status == 400 and "no_such" in bad.value.body


def test_batch_create_read_and_archive(client: HubSpot) -> None:
    api = client.crm.companies.batch_api
    created = api.create(
        batch_input_simple_public_object_batch_input_for_create=(
            BatchInputSimplePublicObjectBatchInputForCreate(
                inputs=[
                    SimplePublicObjectBatchInputForCreate(properties={"name": f"Batch {i} KG"})
                    for i in range(3)
                ]
            )
        )
    )
    ids = sorted(r.id for r in created.results)
    assert len(ids) == 3
    read = api.read(
        batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=i) for i in [*ids, "999999"]],
            properties=["name"],
            properties_with_history=[],
        )
    )
    assert sorted(r.properties["name"] for r in read.results) == [
        "Batch 0 KG",
        "Batch 1 KG",
        "Batch 2 KG",
    ]
    assert read.num_errors == 1  # the id that does not exist, as a 207 error entry
    api.archive(
        batch_input_simple_public_object_id=BatchInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=ids[0])]
        )
    )
    assert not _search(client, Filter(property_name="hs_object_id", operator="EQ", value=ids[0]))


def test_search_on_any_property_with_hubspots_operators(client: HubSpot) -> None:
    def ids(*filters: Filter, **kwargs: object) -> list[int]:
        return sorted(int(r.id) for r in _search(client, *filters, **kwargs))

    assert ids(Filter(property_name="hs_object_id", operator="EQ", value="105")) == [105]
    assert ids(Filter(property_name="hs_object_id", operator="IN", values=["101", "103"])) == [
        101,
        103,
    ]
    assert len(ids(Filter(property_name="hs_object_id", operator="NEQ", value="105"))) == 19
    assert ids(
        Filter(property_name="hs_object_id", operator="BETWEEN", value="110", high_value="112")
    ) == [110, 111, 112]
    # numbers compare as numbers (9000 < 10000, although "9000" > "10000" as text)
    assert ids(Filter(property_name="annualrevenue", operator="LT", value="10000")) == list(
        range(100, 110)
    )
    assert ids(Filter(property_name="annualrevenue", operator="GTE", value="18000")) == [118, 119]
    assert ids(Filter(property_name="city", operator="EQ", value="köln")) == [
        102,
        106,
        110,
        114,
        118,
    ]  # text compares case-insensitively
    assert len(ids(Filter(property_name="city", operator="NOT_IN", values=["köln"]))) == 15
    assert ids(Filter(property_name="domain", operator="NOT_HAS_PROPERTY")) == list(
        range(100, 120, 3)
    )
    assert len(ids(Filter(property_name="domain", operator="HAS_PROPERTY"))) == 13
    assert ids(Filter(property_name="city", operator="CONTAINS_TOKEN", value="main")) == [
        100,
        104,
        108,
        112,
        116,
    ]
    assert ids(Filter(property_name="name", operator="CONTAINS_TOKEN", value="1*")) == [
        101,
        *range(110, 120),
    ]
    # groups are ORed, the filters of a group ANDed
    either = [
        FilterGroup(filters=[Filter(property_name="hs_object_id", operator="EQ", value="101")]),
        FilterGroup(
            filters=[
                Filter(property_name="city", operator="EQ", value="Hamburg"),
                Filter(property_name="annualrevenue", operator="GT", value="15000"),
            ]
        ),
    ]
    assert ids(groups=either) == [101, 119]


def test_sorts_and_the_search_cap(client: HubSpot) -> None:
    ordered = _search(
        client,
        Filter(property_name="annualrevenue", operator="GTE", value="0"),
        sorts=[{"propertyName": "annualrevenue", "direction": "DESCENDING"}],
    )
    assert [int(r.id) for r in ordered[:3]] == [119, 118, 117]
    request = PublicObjectSearchRequest(filter_groups=[], limit=100, after="9950")
    with pytest.raises(ApiException) as capped:
        client.crm.companies.search_api.do_search(public_object_search_request=request)
    assert capped.value.status == 400 and "10000" in capped.value.body


def test_v4_associations_of_one_object(client: HubSpot) -> None:
    page = client.crm.associations.v4.basic_api.get_page(
        object_type="contacts", object_id="7", to_object_type="companies"
    )
    assert [str(r.to_object_id) for r in page.results] == ["101"]
    assert page.results[0].association_types[0].category == "HUBSPOT_DEFINED"
    back = client.crm.associations.v4.basic_api.get_page(
        object_type="companies", object_id="101", to_object_type="contacts"
    )
    assert [str(r.to_object_id) for r in back.results] == ["7"]
