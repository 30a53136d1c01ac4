"""EU residency: object-store lake locations outside the EU are refused, naming the rule,
before anything is written; region names are judged per provider."""

from __future__ import annotations

import pytest

from pipelines.lake.paths import Lake, LakeLocationError
from pipelines.lake.residency import ResidencyError, check_eu_location


@pytest.mark.parametrize(
    ("url", "region", "endpoint", "provider"),
    [
        ("s3://lake/prod", "eu-central-1", None, "aws"),
        ("s3://lake", "eu-central-1", "https://s3.eu-central-1.amazonaws.com", "aws"),
        ("s3://lake", "eu-central-2", "https://s3.eu-central-2.ionoscloud.com", "ionos"),
        ("s3://lake", "fsn1", "https://fsn1.your-objectstorage.com", "hetzner"),
        ("s3://lake", "fr-par", "https://s3.fr-par.scw.cloud", "scaleway"),
        ("gs://lake", "europe-west3", None, "gcp"),
        ("abfss://lake@acct.dfs.core.windows.net", "germanywestcentral", None, "azure"),
        ("s3://lake", "eu-central-1", "http://127.0.0.1:8333", "loopback"),
    ],
)
def test_eu_locations_pass(url: str, region: str, endpoint: str | None, provider: str) -> None:
    assert check_eu_location(url, region, endpoint).provider == provider


@pytest.mark.parametrize(
    ("region", "endpoint", "rule"),
    [
        ("us-east-1", None, "R3"),
        ("eu-west-2", None, "R3"),  # London: Europe, not the EU
        ("eu-central-2", None, "R3"),  # AWS Zurich (the same name is Berlin at IONOS)
        ("eu-central-1", "https://objects.example-cloud.com", "R2"),
        (None, None, "R1"),
        ("ap-southeast-1", "https://s3.ap-southeast-1.amazonaws.com", "R3"),
    ],
)
def test_non_eu_locations_are_refused_with_the_rule(
    region: str | None, endpoint: str | None, rule: str
) -> None:
    with pytest.raises(ResidencyError, match=rf"rule {rule}"):
        check_eu_location("s3://lake/prod", region, endpoint)


def test_the_cli_refuses_before_writing(tmp_path) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = os.environ | {
        "LEDGERBRIDGE_LAKE": "s3://ledgerbridge-lake/prod",
        "LEDGERBRIDGE_S3_REGION": "us-east-1",
        "HOME": str(tmp_path),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "rule R3 (EU region)" in proc.stderr and "us-east-1" in proc.stderr
    with pytest.raises(LakeLocationError, match="refused"):
        Lake.from_url("s3://x", "us-west-2")
