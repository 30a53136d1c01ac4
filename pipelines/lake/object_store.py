"""Access to an S3-compatible object store for every library of the run.

deltalake (object_store), s3fs (fsspec, universal_pathlib), dlt and DuckDB each read their
S3 settings differently; this puts the lake's endpoint, region and credentials where each
looks — the process environment — once, from ledgerbridge's configuration. Credentials
come from the standard AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY variables (or an
instance role), never from the config file.
"""

from __future__ import annotations

import os
from typing import Any


def configure(region: str | None, endpoint: str | None) -> None:
    """Point every S3 client of this process (and its children: dbt) at the lake's store."""
    env: dict[str, str] = {}
    if region:
        env |= {"AWS_REGION": region, "AWS_DEFAULT_REGION": region}
        env["DESTINATION__FILESYSTEM__CREDENTIALS__REGION_NAME"] = region
    if endpoint:
        env |= {"AWS_ENDPOINT_URL": endpoint, "AWS_ENDPOINT_URL_S3": endpoint}
        env["DESTINATION__FILESYSTEM__CREDENTIALS__ENDPOINT_URL"] = endpoint
        if endpoint.startswith("http://"):
            env["AWS_ALLOW_HTTP"] = "true"  # delta-rs refuses plain HTTP otherwise
        host = endpoint.split("://", 1)[-1].rstrip("/")
        env["LEDGERBRIDGE_S3_DUCKDB_ENDPOINT"] = host
        env["LEDGERBRIDGE_S3_DUCKDB_SSL"] = "true" if endpoint.startswith("https") else "false"
        env["LEDGERBRIDGE_S3_DUCKDB_URL_STYLE"] = "path"
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        value = os.environ.get(name)
        if value:
            env[f"DESTINATION__FILESYSTEM__CREDENTIALS__{name}"] = value
    os.environ.update(env)


def storage_options() -> dict[str, str]:
    """deltalake storage options from the environment `configure` set."""
    keys = (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ALLOW_HTTP",
    )
    return {k: os.environ[k] for k in keys if os.environ.get(k)}


def s3_path(url: str, region: str | None, endpoint: str | None) -> Any:
    """The lake's data root as a pathlib-like object over s3fs."""
    from upath import UPath

    configure(region, endpoint)
    options: dict[str, Any] = {}
    if endpoint:
        options["endpoint_url"] = endpoint
    if region:
        options["client_kwargs"] = {"region_name": region}
    return UPath(url.replace("s3a://", "s3://", 1), **options)
