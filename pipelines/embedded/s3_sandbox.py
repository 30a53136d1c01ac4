"""A real S3-compatible object store on loopback (SeaweedFS's `weed mini`), for tests and
`make pipelines-s3`: the lake on an object store without an account anywhere.

`python -m pipelines.embedded.s3_sandbox -- ledgerbridge run` starts the server, runs the command
with the lake in its bucket (endpoint, region and credentials in the environment, as a
person would configure a real EU bucket) and stops the server afterwards.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

BUCKET = "lake"
REGION = "eu-central-1"  # what the lake is configured with: the residency check needs one


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _weed() -> str:
    here = Path(sys.executable).parent / "weed"
    found = str(here) if here.exists() else shutil.which("weed")
    if not found:
        raise FileNotFoundError("the SeaweedFS binary `weed` is missing: run `make setup`")
    return found


@dataclass
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    region: str = REGION
    bucket: str = BUCKET

    def env(self, prefix: str = "demo") -> dict[str, str]:
        """The configuration of a lake in this server's bucket."""
        return {
            "LEDGERBRIDGE_LAKE": f"s3://{self.bucket}/{prefix}",
            "LEDGERBRIDGE_S3_ENDPOINT": self.endpoint,
            "LEDGERBRIDGE_S3_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }


class SeaweedS3:
    """`with SeaweedS3(folder) as server:` — started on free loopback ports, stopped after."""

    def __init__(self, folder: Path | None = None) -> None:
        self._own = folder is None
        self.folder = Path(folder or tempfile.mkdtemp(prefix="ledgerbridge-s3-"))
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> S3Server:
        self.folder.mkdir(parents=True, exist_ok=True)
        server = S3Server(
            f"http://127.0.0.1:{_free_port()}",
            "lb" + secrets.token_hex(8),
            secrets.token_hex(20),
        )
        config = self.folder / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "lake",
                            "credentials": [
                                {"accessKey": server.access_key, "secretKey": server.secret_key}
                            ],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        s3_port = int(server.endpoint.rsplit(":", 1)[1])
        data = self.folder / "data"
        data.mkdir(exist_ok=True)
        cmd = [
            _weed(), "-logtostderr=true", "mini", f"-dir={data}",
            "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={_free_port()}", f"-volume.port={_free_port()}",
            f"-filer.port={_free_port()}", f"-s3.port={s3_port}",
            f"-s3.config={config}", f"-bucket={BUCKET}",
            "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-filer.localSocket={self.folder / 'filer.sock'}",
            f"-s3.localSocket={self.folder / 's3.sock'}",
        ]  # fmt: skip
        log = open(self.folder / "weed.log", "wb")
        self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        self._wait(server)
        return server

    def _wait(self, server: S3Server, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(
                    f"SeaweedFS exited ({self._proc.returncode}); see {self.folder / 'weed.log'}"
                )
            try:
                urllib.request.urlopen(f"{server.endpoint}/{server.bucket}", timeout=1)
                return
            except urllib.error.HTTPError:
                return  # it answers (403 without credentials): ready
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(f"SeaweedFS did not answer within {timeout:.0f} s")

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._own:
            shutil.rmtree(self.folder, ignore_errors=True)


def main() -> int:
    args = sys.argv[1:]
    if args and args[0] == "--":
        args = args[1:]
    if not args:
        print("usage: python -m pipelines.embedded.s3_sandbox -- COMMAND [ARGS…]", file=sys.stderr)
        return 2
    folder = Path(os.environ.get("LEDGERBRIDGE_S3_SANDBOX_DIR", ".s3-sandbox"))
    with SeaweedS3(folder) as server:
        env = os.environ | server.env()
        env.setdefault("LEDGERBRIDGE_WORK_DIR", str(folder / "work"))
        print(
            f"S3 sandbox at {server.endpoint} (region {server.region}); "
            f"lake {env['LEDGERBRIDGE_LAKE']}",
            file=sys.stderr,
        )
        return subprocess.call(args, env=env)


if __name__ == "__main__":
    raise SystemExit(main())
