"""ledgerbridge: CRM ↔ legacy finance lakehouse pipeline."""

import os as _os

# No phoning home: dlt and dbt send anonymous usage statistics unless told not to, and a
# run must never reach beyond loopback and the package registries.
_os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
_os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
# dlt's own logger: problems only; our structlog events tell the story.
_os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")
