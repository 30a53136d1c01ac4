"""The curated-view API: a customer's financial status and open items, by CRM company id or
finance customer number. Read-only, API keys with scopes, every request audited.

Amounts are decimal strings ("1234.50"), never floats, so a CRM card shows the cent the
ledger holds. Errors are JSON `{"error": code, "message": …}` with the HTTP status saying
whose fault it is: 401 no or bad key, 403 key lacks the scope, 404 no such customer (or
not matched to the CRM), 422 malformed id.
"""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal
from typing import Annotated

import structlog
from fastapi import Depends, FastAPI, HTTPException, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipelines.operations.audit import AuditLog
from pipelines.serving.keys import ApiKey, ApiKeyStore
from pipelines.serving.snapshot import WarehouseSnapshot
from pipelines.serving.webhook_endpoint import WebhookReceiver, register_webhook

log = structlog.get_logger(__name__)


class FinancialStatus(BaseModel):
    customer_number: int
    crm_company_id: int | None
    customer_name: str
    payment_status: str = Field(description="current, overdue, in_dunning or blocked")
    open_item_count: int
    open_amount_eur: Decimal
    overdue_amount_eur: Decimal
    max_days_past_due: int
    credit_limit_eur: Decimal | None
    credit_utilisation_percent: Decimal | None
    last_payment_date: date | None


class OpenItem(BaseModel):
    document_number: str
    document_type: str
    document_date: date
    due_date: date | None
    currency_code: str
    open_amount: Decimal
    open_amount_eur: Decimal
    days_past_due: int
    ageing_bucket: str
    dunning_level: int


class OpenItems(BaseModel):
    customer_number: int
    crm_company_id: int | None
    items: list[OpenItem]


class ApiError(BaseModel):
    error: str
    message: str


# ids are BIGINT in the warehouse: anything larger is a 422, never an overflow (a 500)
BIGINT_MAX = 2**63 - 1
CompanyId = Annotated[int, Path(ge=1, le=BIGINT_MAX, description="CRM (HubSpot) company id")]
CustomerNo = Annotated[int, Path(ge=1, le=BIGINT_MAX, description="Finance customer number")]
_STATUS_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    422: "invalid_request",
}

_ERRORS = {
    401: {"model": ApiError, "description": "No API key, or not a valid one"},
    403: {"model": ApiError, "description": "The key lacks the scope"},
    404: {"model": ApiError, "description": "No such customer"},
}


def create_api(
    snapshot: WarehouseSnapshot,
    keys: ApiKeyStore,
    audit: AuditLog,
    webhooks: WebhookReceiver | None = None,
) -> FastAPI:
    """The API over a warehouse snapshot; with `webhooks`, also HubSpot's webhook endpoint."""
    app = FastAPI(
        title="ledgerbridge curated views",
        version="1",
        description="Finance status of CRM customers, from the ledgerbridge warehouse.",
    )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """Every refusal, the router's own 404/405 included, in the one error body."""
        if isinstance(exc.detail, tuple):
            code, message = exc.detail
        else:
            code = _STATUS_CODES.get(exc.status_code, "error")
            message = f"{exc.detail}: {request.method} {request.url.path}"
        return JSONResponse(
            {"error": code, "message": message},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return JSONResponse({"error": "invalid_request", "message": where}, status_code=422)

    @app.middleware("http")
    async def audited(request: Request, call_next):  # noqa: ANN001
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception as exc:  # a bug, not the caller's fault: JSON, audited, logged
            log.exception("api_internal_error", path=request.url.path)
            audit.record(
                actor=getattr(request.state, "api_key", "anonymous"),
                action="api_request",
                outcome="500",
                target=f"{request.method} {request.url.path}",
                source=request.client.host if request.client else "",
                reason=f"{type(exc).__name__}: {str(exc)[:200]}",
            )
            return JSONResponse(
                {"error": "internal_error", "message": "the server failed; the error is logged"},
                status_code=500,
            )
        why = getattr(request.state, "audit_reason", None)
        audit.record(
            actor=getattr(request.state, "api_key", "anonymous"),
            action="api_request",
            outcome=str(response.status_code),
            target=f"{request.method} {request.url.path}",
            source=request.client.host if request.client else "",
            ms=round((time.perf_counter() - started) * 1000, 2),
            **({"reason": why} if why else {}),
        )
        return response

    def authorised(scope: str):
        def check(request: Request) -> ApiKey:
            header = request.headers.get("authorization", "")
            presented = header.removeprefix("Bearer ").strip() or request.headers.get(
                "x-api-key", ""
            )
            if not presented:
                raise HTTPException(401, ("unauthenticated", "send Authorization: Bearer <key>"))
            key = keys.verify(presented)
            if key is None:
                raise HTTPException(401, ("unauthenticated", "API key not valid or revoked"))
            request.state.api_key = key.name
            if scope not in key.scopes:
                raise HTTPException(403, ("forbidden", f"key {key.name!r} lacks scope {scope}"))
            return key

        return Depends(check)

    if webhooks is not None:
        register_webhook(app, webhooks)

    def _status(column: str, value: int) -> dict:
        row = snapshot.financial_status(column, value)
        if row is None:
            what = "CRM company" if column == "crm_company_id" else "finance customer"
            raise HTTPException(404, ("not_found", f"no {what} {value} in the warehouse"))
        return row

    @app.get(
        "/v1/customers/{crm_company_id}/financial-status",
        response_model=FinancialStatus,
        responses=_ERRORS,
        dependencies=[authorised("financial-status:read")],
    )
    def status_by_company(crm_company_id: CompanyId) -> dict:
        return _status("crm_company_id", crm_company_id)

    @app.get(
        "/v1/finance-customers/{customer_number}/financial-status",
        response_model=FinancialStatus,
        responses=_ERRORS,
        dependencies=[authorised("financial-status:read")],
    )
    def status_by_customer(customer_number: CustomerNo) -> dict:
        return _status("customer_number", customer_number)

    @app.get(
        "/v1/customers/{crm_company_id}/open-items",
        response_model=OpenItems,
        responses=_ERRORS,
        dependencies=[authorised("open-items:read")],
    )
    def items_by_company(crm_company_id: CompanyId) -> dict:
        row = _status("crm_company_id", crm_company_id)
        return {**row, "items": snapshot.open_items(row["customer_number"])}

    @app.get(
        "/v1/finance-customers/{customer_number}/open-items",
        response_model=OpenItems,
        responses=_ERRORS,
        dependencies=[authorised("open-items:read")],
    )
    def items_by_customer(customer_number: CustomerNo) -> dict:
        row = _status("customer_number", customer_number)
        return {**row, "items": snapshot.open_items(customer_number)}

    return app
