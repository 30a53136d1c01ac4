"""Logging: structured JSON lines for machines (one file per run under <lake>/logs) and a
compact console rendering for people, both from the same structlog events."""

from __future__ import annotations

import logging
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import structlog


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def configure_logging(
    log_dir: Path | None, run_id: str, level: str = "INFO", console_json: bool = False
) -> Path | None:
    """Route structlog and stdlib logs to stderr and, if given, `<log_dir>/<run_id>.jsonl`."""
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(run_id=run_id)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer()
                if console_json
                else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()),
            ],
            foreign_pre_chain=shared,
        )
    )
    console.setLevel(level)
    root.addHandler(console)
    path = None
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        path = log_dir / f"{run_id}.jsonl"
        file_handler = logging.FileHandler(path, encoding="utf-8")
        file_handler.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.dict_tracebacks,
                    structlog.processors.JSONRenderer(),
                ],
                foreign_pre_chain=shared,
            )
        )
        file_handler.setLevel("INFO")
        root.addHandler(file_handler)
    root.setLevel("DEBUG")
    # third-party chatter stays out of the console unless it is a problem
    for noisy in ("dlt", "httpx", "urllib3", "uvicorn", "uvicorn.error", "filelock"):
        logging.getLogger(noisy).setLevel("ERROR")
    return path


def record_traceback(log_dir: Path, run_id: str, command: str, exc: BaseException) -> None:
    """A failed command's traceback, into its run's log file only (the console gets one
    line): what a person debugging it needs, without burying the reason on screen."""
    import json
    import traceback

    log_dir.mkdir(parents=True, exist_ok=True)
    entry = {
        "event": "command_traceback",
        "command": command,
        "run_id": run_id,
        "level": "error",
        "timestamp": datetime.now(UTC).isoformat(),
        "error": f"{type(exc).__name__}: {exc}",
        "traceback": "".join(traceback.format_exception(exc)),
    }
    with (log_dir / f"{run_id}.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\n")
