"""One place for configuration.

Precedence: defaults < `ledgerbridge.toml` < `LEDGERBRIDGE_*` env vars < CLI flags.

Why pydantic-settings: it gives typed settings, a TOML file source and env vars with one
precedence rule, so no command grows its own ad-hoc lookups.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CHECKOUT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LAKE = CHECKOUT_ROOT / "lake"


def _config_file() -> Path:
    return Path(os.environ.get("LEDGERBRIDGE_CONFIG", "ledgerbridge.toml"))


class Settings(BaseSettings):
    """Everything a run can be told; secrets are `SecretStr` so they never print."""

    model_config = SettingsConfigDict(env_prefix="LEDGERBRIDGE_", extra="ignore")

    lake: str = Field(default=str(DEFAULT_LAKE), description="Root of the lake (path or URL).")
    s3_region: str | None = Field(
        default=None, description="Region of an object-store lake (checked for EU residency)."
    )
    s3_endpoint: str | None = Field(
        default=None, description="Endpoint of an S3-compatible object store (non-AWS)."
    )
    crm_base_url: str | None = Field(
        default=None, description="CRM API base URL; unset means: start the local sandbox."
    )
    crm_token: SecretStr | None = Field(default=None, description="CRM private-app token.")
    crm_client_secret: SecretStr | None = Field(
        default=None,
        description="The CRM app's client secret: `serve` takes HubSpot webhooks at "
        "/webhooks/hubspot only when it is set (their v3 signature is checked with it).",
    )
    webhook_public_url: str | None = Field(
        default=None,
        description="The base URL HubSpot calls when `serve` sits behind a proxy (the "
        "signature covers the full URL); unset: the URL of the request as received.",
    )
    crm_properties: dict[str, list[str]] | None = Field(
        default=None,
        description="CRM properties requested and landed per object type (default: "
        "pipelines/sources/crm/settings.py); nothing else leaves the CRM.",
    )
    pseudonym_key: SecretStr | None = Field(
        default=None,
        description="Key of the HMAC pseudonyms analysts see (default: a key file outside "
        "the lake, ~/.config/ledgerbridge/pseudonym.key).",
    )
    access: dict[str, list[str]] | None = Field(
        default=None,
        description="Roles (analyst, finance, crm_service, dpo) → operating-system users; "
        "unset: the local user holds every role (a developer's own lake).",
    )
    demo_customers: int = Field(default=3000, description="Customers the demo generates.")
    demo_seed: int = Field(default=42, description="Seed of the demo generator.")
    log_level: str = Field(default="INFO")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, toml)


def load_settings(**overrides: object) -> Settings:
    """Settings with CLI overrides on top; `None` overrides mean "not given"."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**given)
