"""The HubSpot connector: CRM v3 properties, pipelines and batch update over dlt's REST client.

dlt's client retries 429 and 5xx on every method and honours Retry-After (HubSpot's own
client does not retry POSTs), which makes batch updates safe under rate limits. Pointing it
at a real portal is configuration: base URL https://api.hubapi.com and a private-app token.
"""

from __future__ import annotations

from decimal import Decimal

from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth

from pipelines.crm.connector import DealStage, PropertySpec, RecordUpdate, UpdateOutcome
from pipelines.crm.pacing import BurstPacer


class CrmRequestError(RuntimeError):
    """The CRM refused a call for a reason retrying cannot fix (the message says which)."""


def _message(resp: object) -> str:
    try:
        body = resp.json()  # type: ignore[attr-defined]
    except ValueError:
        return f"HTTP {resp.status_code}"  # type: ignore[attr-defined]
    details = "; ".join(e.get("message", "") for e in body.get("errors", []) if e.get("message"))
    return f"HTTP {resp.status_code} {body.get('category', '')}: {body.get('message', '')}" + (  # type: ignore[attr-defined]
        f" ({details})" if details else ""
    )


class HubSpotConnector:
    name = "hubspot"
    batch_size = 100  # HubSpot's batch endpoints take at most 100 inputs

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self._token = token
        self._client = RESTClient(base_url=base_url, auth=BearerTokenAuth(token))
        self.pacer = BurstPacer()  # under the portal's burst limit (crm/pacing.py)

    def __repr__(self) -> str:  # never the token
        return f"HubSpotConnector({self.base_url!r})"

    def extract_source(
        self,
        properties: dict[str, list[str]],
        allow_schema_change: bool = False,
        suppressed: frozenset[str] = frozenset(),
        suppression_key: bytes = b"",
        landed_live: object = None,
        echoes: dict[str, str] | None = None,
    ) -> object:
        from pipelines.sources.crm import crm_source

        return crm_source(
            base_url=self.base_url,
            token=self._token,
            properties=properties,
            allow_schema_change=allow_schema_change,
            suppressed=suppressed,
            suppression_key=suppression_key,
            landed_live=landed_live,
            echoes=echoes or {},
        )

    def _get(self, path: str) -> dict:
        resp = self._client.get(path)
        self.pacer.after(resp.headers)
        if resp.status_code != 200:
            raise CrmRequestError(f"GET {path}: {_message(resp)}")
        return resp.json()

    def _post(self, path: str, body: dict, ok: tuple[int, ...] = (200, 201)) -> object:
        resp = self._client.post(path, json=body)
        self.pacer.after(resp.headers)
        if resp.status_code not in ok:
            raise CrmRequestError(f"POST {path}: {_message(resp)}")
        return resp

    def property_names(self, object_type: str) -> list[str]:
        return [p["name"] for p in self._get(f"/crm/v3/properties/{object_type}")["results"]]

    def ensure_properties(
        self, object_type: str, group: tuple[str, str], specs: list[PropertySpec]
    ) -> list[str]:
        groups = {
            g["name"] for g in self._get(f"/crm/v3/properties/{object_type}/groups")["results"]
        }
        if group[0] not in groups:
            self._post(
                f"/crm/v3/properties/{object_type}/groups",
                {"name": group[0], "label": group[1]},
                ok=(201, 409),
            )
        existing = set(self.property_names(object_type))
        created = []
        for spec in specs:
            if spec.name in existing:
                continue
            body = {
                "name": spec.name,
                "label": spec.label,
                "type": spec.type,
                "fieldType": spec.field_type,
                "groupName": group[0],
                "description": spec.description,
                "options": [
                    {"label": o.replace("_", " ").title(), "value": o, "displayOrder": i}
                    for i, o in enumerate(spec.options)
                ],
            }
            # 409: created meanwhile by another run; what we need exists either way
            self._post(f"/crm/v3/properties/{object_type}", body, ok=(201, 409))
            created.append(spec.name)
        return created

    def update(self, object_type: str, updates: list[RecordUpdate]) -> list[UpdateOutcome]:
        if len(updates) > self.batch_size:
            raise ValueError(f"at most {self.batch_size} updates per call, got {len(updates)}")
        body = {"inputs": [{"id": u.object_id, "properties": u.properties} for u in updates]}
        resp = self._client.post(f"/crm/v3/objects/{object_type}/batch/update", json=body)
        self.pacer.after(resp.headers)
        if resp.status_code in (200, 207):
            failed: dict[str, str] = {}
            for err in resp.json().get("errors", []):
                for oid in err.get("context", {}).get("ids", []):
                    failed[str(oid)] = f"{err.get('category', '')}: {err.get('message', '')}"
            stamps = {str(r.get("id")): r.get("updatedAt") for r in resp.json().get("results", [])}
            return [
                UpdateOutcome(
                    u.object_id,
                    u.object_id not in failed,
                    failed.get(u.object_id),
                    stamps.get(str(u.object_id)),
                )
                for u in updates
            ]
        # the whole batch was refused (validation, permissions): every record carries why
        reason = _message(resp)
        return [UpdateOutcome(u.object_id, False, reason) for u in updates]

    def erase_contact(self, email: str) -> bool:
        """GDPR delete of the contact with this e-mail; False if the CRM has none."""
        resp = self._client.post(
            "/crm/v3/objects/contacts/gdpr-delete", json={"objectId": email, "idProperty": "email"}
        )
        if resp.status_code == 404:
            return False
        if resp.status_code != 204:
            raise CrmRequestError(f"POST gdpr-delete: {_message(resp)}")
        return True

    def deal_stages(self) -> list[DealStage]:
        return [
            DealStage(
                pipeline["id"],
                stage["id"],
                stage["label"],
                Decimal(stage.get("metadata", {}).get("probability", "0")),
                stage.get("metadata", {}).get("isClosed") == "true",
            )
            for pipeline in self._get("/crm/v3/pipelines/deals")["results"]
            for stage in pipeline["stages"]
        ]
