"""A real S3 endpoint for tests: moto's standalone server in its own process.

The pipeline talks to it by endpoint URL over plain HTTP, exactly as it would talk to any
S3-compatible store; nothing is patched. moto keeps everything in memory and checks no
signatures, and serves objects to anonymous ``GET {endpoint}/{bucket}/{key}`` (path-style),
which is how the tests fetch every URL of a published index.

Fixtures (registered for the whole suite by ``tests/conftest.py``):

- ``s3_endpoint`` (session): ``"http://127.0.0.1:PORT"`` of a running server.
- ``s3_bucket`` (function): a fresh, uniquely named bucket on it.
- ``fake_aws_credentials`` (function): distinctive fake keys in the environment and no
  developer configuration reachable; returns ``(key_id, secret)``.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

REGION = "us-east-1"
# Distinctive, so a grep of captured output finds them and nothing else. The shape of real
# keys (AKIA + 16, 40 characters with '/' and '+') so nothing treats them as malformed.
FAKE_KEY_ID = "AKIAFAKETESTKEY7Q2Z9"
FAKE_SECRET = "fAkE/SeCrEt+NeverLogMe0123456789abcdefgh"
# Keys the fixtures' own boto3 clients use (moto accepts any).
FIXTURE_KEYS = {"aws_access_key_id": "fixture-key-id", "aws_secret_access_key": "fixture-secret"}

START_TIMEOUT = 30.0  # seconds for the server to answer HTTP (under 1 s measured)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGKILL when the process that started it dies, so a crashed or
    killed pytest leaves no server behind (teardown covers every orderly exit)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def stop_process(proc: subprocess.Popen[Any], grace: float = 5.0) -> None:
    """Terminate, then kill if it does not exit within ``grace`` seconds; always reaped."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(grace)


def wait_http(url: str, proc: subprocess.Popen[Any] | None, timeout: float, log: Path) -> None:
    """Return once ``url`` answers any HTTP response; fail if ``proc`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"server exited with {proc.returncode} before answering {url}:\n"
                + log.read_text(errors="replace")[-4000:]
            )
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # an HTTP error status is still an answer
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"server did not answer {url} within {timeout} s:\n"
                    + log.read_text(errors="replace")[-4000:]
                ) from None
            time.sleep(0.05)


class MotoServer:
    """``python -m moto.server`` on 127.0.0.1 and a free port, output to a log file."""

    def __init__(self, log_dir: Path):
        self.log = log_dir / "moto-server.log"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        for _attempt in range(3):  # the free port can be taken between probe and bind
            self.port = free_port()
            with self.log.open("ab") as out:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, **_SERVER_ENV},
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                )
            try:
                wait_http(self.url + "/", self.proc, START_TIMEOUT, self.log)
                return self
            except RuntimeError:
                self.stop()
                if _attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)


# The server itself needs no AWS configuration; keep a developer's out of it too.
_SERVER_ENV = {
    "AWS_ACCESS_KEY_ID": "server",
    "AWS_SECRET_ACCESS_KEY": "server",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


def s3_client(endpoint: str, **config: Any) -> Any:
    """A boto3 S3 client on ``endpoint`` with the fixtures' keys (never a developer's)."""
    return boto3.session.Session(region_name=REGION, **FIXTURE_KEYS).client(
        "s3",
        endpoint_url=endpoint,
        config=Config(s3={"addressing_style": "path"}, **config),
    )


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = MotoServer(tmp_path_factory.mktemp("moto")).start()
    try:
        yield server.url
    finally:
        server.stop()


def public_read_policy(bucket: str) -> str:
    """Anyone may GET objects: how a bucket that serves published media is set up (ACLs are
    off by default on new AWS buckets, so not per-object ``public-read``)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PublicRead",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                }
            ],
        }
    )


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> Iterator[str]:
    """A new bucket whose objects anyone can GET at ``{s3_endpoint}/{bucket}/{key}``.

    moto answers an anonymous GET with 403 unless the bucket policy allows it or the
    object's ACL is public-read; this bucket has the policy.
    """
    name = f"test-{uuid.uuid4().hex[:16]}"
    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket=name)
    client.put_bucket_policy(Bucket=name, Policy=public_read_policy(name))
    yield name
    # moto holds objects in memory for the whole session: free them (best effort).
    with contextlib.suppress(Exception):
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            for obj in page.get("Contents", []):
                client.delete_object(Bucket=name, Key=obj["Key"])
        client.delete_bucket(Bucket=name)


@pytest.fixture
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """Fake keys in the environment; a developer's profile, session token, endpoint and
    config files are out of reach for the duration of the test."""
    for name in list(os.environ):
        if name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN") or (
            name.startswith("AWS_ENDPOINT_URL")
        ):
            monkeypatch.delenv(name)
    missing = Path(tempfile.gettempdir()) / f"no-aws-config-{uuid.uuid4().hex}"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(missing / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(missing / "credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no IMDS probe on a CI host
    return FAKE_KEY_ID, FAKE_SECRET
