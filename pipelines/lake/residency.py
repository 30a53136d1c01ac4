"""Data residency: an object-store lake location outside the EU is refused before a byte
is written, with the rule that refused it.

Two checks, both needed: the region must be an EU region *of the provider the endpoint
belongs to* (region names collide: AWS's eu-central-2 is Zurich, IONOS's is Berlin), and
the endpoint must belong to a provider whose regions we know (or be loopback, for tests).
Switzerland, the UK and Norway are European but not EU: they are refused.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlparse

# provider → (endpoint host suffixes, EU regions)
PROVIDERS: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    "aws": (
        ("amazonaws.com",),
        frozenset(
            {"eu-central-1", "eu-west-1", "eu-west-3", "eu-north-1", "eu-south-1", "eu-south-2"}
        ),
    ),
    "gcp": (
        ("storage.googleapis.com",),
        frozenset(
            {
                "europe-west1",
                "europe-west3",
                "europe-west4",
                "europe-west8",
                "europe-west9",
                "europe-west10",
                "europe-west12",
                "europe-north1",
                "europe-central2",
                "europe-southwest1",
            }
        ),
    ),
    "azure": (
        ("blob.core.windows.net", "dfs.core.windows.net"),
        frozenset(
            {
                "germanywestcentral",
                "germanynorth",
                "francecentral",
                "francesouth",
                "northeurope",
                "westeurope",
                "swedencentral",
                "polandcentral",
                "italynorth",
                "spaincentral",
            }
        ),
    ),
    "ionos": (("ionoscloud.com",), frozenset({"de", "eu-central-2", "eu-south-2"})),
    "ovhcloud": (
        ("cloud.ovh.net", "io.cloud.ovh.net"),
        frozenset({"gra", "sbg", "rbx", "de", "waw", "eu-west-par"}),
    ),
    "hetzner": (("your-objectstorage.com",), frozenset({"fsn1", "nbg1", "hel1"})),
    "scaleway": (("scw.cloud",), frozenset({"fr-par", "nl-ams", "pl-waw"})),
    "stackit": (("stackit.cloud",), frozenset({"eu01"})),
    "open-telekom-cloud": (("otc.t-systems.com",), frozenset({"eu-de", "eu-nl"})),
    "exoscale": (
        ("exo.io",),
        frozenset({"de-fra-1", "de-muc-1", "at-vie-1", "at-vie-2", "bg-sof-1"}),
    ),
}


class ResidencyError(ValueError):
    """The location would put data outside the EU (the message names the rule)."""


@dataclass(frozen=True)
class Residency:
    provider: str  # aws, ionos, …, or "loopback" (tests)
    region: str
    jurisdiction: str  # "EU"


def _provider_of(host: str) -> str | None:
    for name, (suffixes, _) in PROVIDERS.items():
        if any(host == s or host.endswith("." + s) for s in suffixes):
            return name
    return None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_eu_location(url: str, region: str | None, endpoint: str | None) -> Residency:
    """The residency of an object-store URL, or ResidencyError naming the rule broken."""
    scheme = urlparse(url).scheme
    if not region:
        raise ResidencyError(
            f"{url}: rule R1 (region required): an object-store lake needs its region "
            "configured (LEDGERBRIDGE_S3_REGION) so residency can be checked"
        )
    host = (urlparse(endpoint).hostname or "") if endpoint else ""
    if endpoint and _loopback(host):
        # a test server on this machine stands in for a provider: its region must still be
        # an EU region of one of them, so a test configured for us-east-1 fails like prod
        if not any(region in regions for _, regions in PROVIDERS.values()):
            raise ResidencyError(
                f"{url}: rule R3 (EU region): region {region!r} is no provider's EU region"
            )
        return Residency("loopback", region, "EU")
    provider = _provider_of(host) if endpoint else {"s3": "aws", "gs": "gcp"}.get(scheme)
    if scheme in ("az", "abfs", "abfss"):
        provider = "azure"
    if provider is None:
        raise ResidencyError(
            f"{url}: rule R2 (known provider): endpoint {endpoint!r} belongs to no provider "
            f"whose EU regions are known ({', '.join(PROVIDERS)})"
        )
    eu_regions = PROVIDERS[provider][1]
    if region not in eu_regions:
        raise ResidencyError(
            f"{url}: rule R3 (EU region): {provider} region {region!r} is not in the EU; "
            f"allowed: {', '.join(sorted(eu_regions))}"
        )
    return Residency(provider, region, "EU")


RESIDENCY_PROPERTY = "ledgerbridge.residency"


def describe(residency: Residency | None) -> str:
    """What a table's properties and the run log record: provider/region/jurisdiction."""
    if residency is None:
        return "local-disk/operator-site/declared-by-operator"
    return f"{residency.provider}/{residency.region}/{residency.jurisdiction}"


def record_on_tables(tables: list[str], residency: Residency | None) -> int:
    """Write the residency into each Delta table's properties (where it is not there yet);
    returns the number of tables changed."""
    from deltalake import DeltaTable

    value = describe(residency)
    changed = 0
    for uri in tables:
        dt = DeltaTable(uri)
        if dt.metadata().configuration.get(RESIDENCY_PROPERTY) != value:
            dt.alter.set_table_properties({RESIDENCY_PROPERTY: value}, raise_if_not_exists=False)
            changed += 1
    return changed
