"""`POST /webhooks/hubspot` on `serve`: HubSpot's change notifications, verified (signature
v3 with the app's client secret, at most 5 minutes old, no replay) and kept in the webhook
inbox for `watch`; a refusal is a 401 in the API's error body, audited with its reason."""

from __future__ import annotations

import json
from dataclasses import dataclass

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response

from pipelines.crm.webhooks import SignatureCheck, WebhookInbox, WebhookRefused

PATH = "/webhooks/hubspot"


@dataclass
class WebhookReceiver:
    check: SignatureCheck
    inbox: WebhookInbox
    # the URL HubSpot calls, when `serve` sits behind a proxy (the signature covers it)
    public_base_url: str | None = None

    def uri(self, request: Request) -> str:
        if not self.public_base_url:
            return str(request.url)
        query = f"?{request.url.query}" if request.url.query else ""
        return self.public_base_url.rstrip("/") + request.url.path + query


def register_webhook(app: FastAPI, receiver: WebhookReceiver) -> None:
    @app.post(PATH, status_code=204, summary="HubSpot webhook events (signature v3)")
    async def hubspot_webhook(request: Request) -> Response:
        request.state.api_key = "hubspot-webhook"
        body = await request.body()
        try:
            receiver.check.verify(
                request.method,
                receiver.uri(request),
                body,
                request.headers.get("x-hubspot-signature-v3"),
                request.headers.get("x-hubspot-request-timestamp"),
            )
        except WebhookRefused as exc:
            request.state.audit_reason = str(exc)
            raise HTTPException(401, ("unauthenticated", f"webhook refused: {exc}")) from None
        try:
            events = json.loads(body)
        except ValueError:
            events = None
        if not isinstance(events, list):
            request.state.audit_reason = "body is not a JSON array of events"
            raise HTTPException(400, ("bad_request", "the body must be a JSON array of events"))
        request.state.audit_reason = f"{receiver.inbox.append(events)} new events"
        return Response(status_code=204)
