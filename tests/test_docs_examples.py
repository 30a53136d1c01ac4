"""Every shell example in the README and in docs/ is run, as written, on a copy of the
end-to-end lake — so no example can drift from what the commands do."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCED = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
# commands that serve until interrupted: they must come up and stay up
SERVERS = ("ledgerbridge serve", "ledgerbridge crm-sandbox")


def examples(doc: Path) -> list[str]:
    """The commands of the document's ```sh blocks (continuation lines joined)."""
    out = []
    for block in FENCED.findall(doc.read_text(encoding="utf-8")):
        for command in block.replace("\\\n", " ").splitlines():
            command = command.strip()
            if command and not command.startswith("#"):
                out.append(command)
    return out


def test_the_docs_have_examples_and_the_readme_is_short() -> None:
    assert sum(len(examples(d)) for d in DOCS) >= 15
    assert len((ROOT / "README.md").read_text().splitlines()) <= 300


def test_every_make_example_names_a_target() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-zA-Z0-9_-]+):", makefile, re.M))
    for doc in DOCS:
        for command in examples(doc):
            if command.startswith("make "):
                assert command.split()[1] in targets, f"{doc.name}: {command}"


RUNNABLE = [d for d in DOCS if any(not c.startswith("make ") for c in examples(d))]


@pytest.mark.parametrize("doc", RUNNABLE, ids=lambda d: d.name)
def test_every_example_runs(doc: Path, e2e_lake: dict, tmp_path: Path) -> None:
    commands = [c for c in examples(doc) if not c.startswith("make ")]
    shutil.copytree(e2e_lake["lake"], tmp_path / "lake", symlinks=True)
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    env = os.environ | {"LEDGERBRIDGE_LAKE": str(tmp_path / "lake"), "COLUMNS": "160"}
    for command in commands:
        if any(server in command for server in SERVERS):
            port = "--port 18" + str(abs(hash(command)) % 900 + 100)
            proc = subprocess.Popen(
                f"{command} {port}", shell=True, cwd=tmp_path, env=env, start_new_session=True
            )
            time.sleep(6)
            alive = proc.poll() is None
            os.killpg(proc.pid, 15)
            proc.wait(timeout=20)
            assert alive, f"{doc.name}: {command} did not stay up"
            continue
        proc = subprocess.run(
            command,
            shell=True,
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        said = proc.stdout[-1500:] + proc.stderr[-1500:]
        assert proc.returncode == 0, f"{doc.name}: {command}\n{said}"
        assert "Traceback" not in proc.stderr and "Error:" not in proc.stderr, (
            f"{doc.name}: {command}\n{said}"
        )
