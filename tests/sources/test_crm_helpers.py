"""The CRM source's requests, tested against recorded-style answers with no server: the
search windows below HubSpot's 10,000-result cap without skipping a row, association reads
go in batches of 100, and a page turns into the landed columns."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from pipelines.sources.crm import helpers, settings


@dataclass
class Answer:
    body: dict

    def raise_for_status(self) -> None:
        return None

    def json(self) -> dict:
        return self.body


@dataclass
class FakeCrm:
    """A search endpoint over `objects` (id → updatedAt), as HubSpot answers it: GTE on the
    timestamp, ascending, `limit` per page, an `after` cursor, no paging past the cap."""

    objects: dict[str, str]
    calls: list[tuple[str, dict]] = field(default_factory=list)

    def post(self, path: str, json: dict) -> Answer:
        self.calls.append((path, json))
        if path.endswith("/batch/read"):
            return Answer(
                {
                    "results": [
                        {"from": {"id": i["id"]}, "to": [{"toObjectId": int(i["id"]) + 1000}]}
                        for i in json["inputs"]
                    ]
                }
            )
        low = json["filterGroups"][0]["filters"][0]["value"]
        rows = sorted(
            ({"id": i, "updatedAt": t, "properties": {}} for i, t in self.objects.items()),
            key=lambda r: (r["updatedAt"], r["id"]),
        )
        rows = [r for r in rows if r["updatedAt"] >= low]
        start = int(json.get("after") or 0)
        if start >= settings.SEARCH_CAP:
            raise AssertionError("paged past the search cap")
        page = rows[start : start + json["limit"]]
        more = start + json["limit"] < len(rows)
        return Answer(
            {
                "total": len(rows),
                "results": page,
                "paging": {"next": {"after": str(start + json["limit"])}} if more else {},
            }
        )


@pytest.fixture
def small_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "SEARCH_LIMIT", 5)
    monkeypatch.setattr(settings, "SEARCH_CAP", 10)


def _stamp(i: int) -> str:
    return f"2026-10-30T10:{i // 60:02d}:{i % 60:02d}.000Z"


def test_the_search_windows_below_the_cap_and_skips_nothing(small_cap: None) -> None:
    crm = FakeCrm({str(i): _stamp(i // 2) for i in range(37)})  # two objects per second
    seen = [r for page in helpers.search_pages(crm, "companies", ["name"], _stamp(0)) for r in page]
    assert {r["id"] for r in seen} == set(crm.objects)
    stamps = [r["updatedAt"] for r in seen]
    assert stamps == sorted(stamps)  # each window continues where the last one stopped
    assert len(crm.calls) > 37 // settings.SEARCH_LIMIT  # more than one window was needed
    assert all(int(c[1].get("after") or 0) < settings.SEARCH_CAP for c in crm.calls)


def test_more_rows_at_one_instant_than_the_cap_is_an_error_not_a_gap(small_cap: None) -> None:
    crm = FakeCrm({str(i): _stamp(0) for i in range(25)})
    with pytest.raises(RuntimeError, match="share the modification time"):
        list(helpers.search_pages(crm, "deals", ["dealname"], _stamp(0)))


def test_associations_are_read_in_batches_of_a_hundred() -> None:
    crm = FakeCrm({})
    ids = [str(i) for i in range(250)]
    companies = helpers.read_companies_of(crm, "contacts", ids)
    assert [len(c[1]["inputs"]) for c in crm.calls] == [100, 100, 50]
    assert crm.calls[0][0] == "/crm/v4/associations/contacts/companies/batch/read"
    assert companies["7"] == "1007"


def test_a_page_becomes_the_landed_columns() -> None:
    rows = [
        {
            "id": "5",
            "properties": {"firstname": "Anna", "email": "a@example.de"},
            "createdAt": "2026-10-01T08:00:00Z",
            "updatedAt": "2026-10-02T08:00:00Z",
            "archived": True,
            "archivedAt": "2026-10-03T08:00:00Z",
        }
    ]
    table = helpers.to_arrow("contacts", ["firstname", "email"], rows, {"5": "77"})
    assert table.column_names == [
        "id",
        "firstname",
        "email",
        "company_id",
        "created_at",
        "updated_at",
        "archived",
        "archived_at",
    ]
    row = table.to_pylist()[0]
    assert (row["id"], row["company_id"], row["archived"]) == (5, 77, True)
    assert row["archived_at"].isoformat() == "2026-10-03T08:00:00+00:00"
