"""Publishing to S3 when the wire misbehaves: the real S3 protocol (moto's server), with
the fault proxy (tests/faultproxy.py) between the pipeline and it. Nothing is patched.

Every test publishes a rendered project (v1) through a healthy proxy, then a re-render of
it at another CRF (v2: two new videos; the same posters, thumbnails and caption files, which
are skipped) with a fault injected. Either botocore's retries ride the fault out (503
SlowDown, 500, dropped uploads: the proxy's log shows the retries), or the publish raises
``PublishError`` (faults that outlast the retries, the proxy killed mid-publish): then the
live ``index.json``, fetched straight from moto, is still v1's, byte for byte, and every URL
in it serves the right bytes; and once the fault is healed the next publish completes with
v2 live.

The index's URLs point straight at moto (``PIPELINE_PUBLIC_BASE_URL``), not through the
proxy, so they can be checked while the proxy is failing or dead.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from pipeline.build import plan_campaign, render_campaign
from pipeline.publish import PublishError, PublishReport, publish
from pipeline.storage import StorageConfig, storage_config
from tests.clips import run_ffmpeg
from tests.faultproxy import FaultProxy
from tests.render_checks import small_plan
from tests.s3server import REGION

pytestmark = pytest.mark.render

PREFIX = "campaign"

CAMPAIGN = """\
name: Publish faults
hashtag: "#PublishFaults"
defaults:
  encoder: {{preset: superfast, crf: {crf}}}
  end_card: false
"""
STUDY = """\
id: study
title: Publish faults
area: Test area
source: ../media/src.mp4
captions:
  en: captions/study.en.vtt
cuts:
  main: [[0, 2.5]]
outputs:
  - {platform: web, cut: main, aspects: ["16:9"]}
  - {platform: x, cut: main, aspects: ["1:1"]}
"""
VTT = """\
WEBVTT

00:00:00.200 --> 00:00:01.500
Hello there

00:00:01.600 --> 00:00:02.450
Stay safe
"""


def render_project(root: Path, source: Path, crf: int) -> Path:
    """Render a one-study project at test sizes (posters and thumbnails included); returns
    its output folder, holding ``index.json`` and the files it lists."""
    (root / "manifests" / "captions").mkdir(parents=True)
    (root / "media").mkdir()
    (root / "media" / "src.mp4").write_bytes(source.read_bytes())
    (root / "manifests" / "campaign.yaml").write_text(CAMPAIGN.format(crf=crf))
    (root / "manifests" / "study.yaml").write_text(STUDY)
    (root / "manifests" / "captions" / "study.en.vtt").write_text(VTT)
    manifests, plan = plan_campaign(root / "manifests", analyse=False)
    report = render_campaign(manifests, small_plan(plan, keep_stills=True))
    assert not report.failed, [r.reason for r in report.results]
    assert report.index_path is not None
    return report.index_path.parent


@dataclass(frozen=True)
class Renders:
    v1: Path  # output folders
    v2: Path
    v1_root: Path  # project root (manifests/, media/, out/) for the command line


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> Renders:
    folder = tmp_path_factory.mktemp("publish-faults")
    source = folder / "src.mp4"
    # fmt: off
    run_ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=s=320x180:r=25:d=3",
        "-f", "lavfi", "-i", "sine=f=440:d=3",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
        "-shortest", str(source),
    )
    # fmt: on
    v1 = render_project(folder / "v1", source, crf=30)
    v2 = render_project(folder / "v2", source, crf=36)
    return Renders(v1, v2, folder / "v1")


# ---------------------------------------------------------------------------------------
# Reading what is published, anonymously and straight from moto
# ---------------------------------------------------------------------------------------


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return bytes(resp.read())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_urls(doc: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """(JSON path, value) of every file URL field: ``url`` or ``*_url``."""
    if isinstance(doc, dict):
        for name, value in doc.items():
            if isinstance(value, str) and (name == "url" or name.endswith("_url")):
                yield f"{where}.{name}", value
            else:
                yield from file_urls(value, f"{where}.{name}")
    elif isinstance(doc, list):
        for i, item in enumerate(doc):
            yield from file_urls(item, f"{where}[{i}]")


@dataclass
class Site:
    """One test's bucket, proxy and storage settings."""

    endpoint: str  # moto, direct
    bucket: str
    proxy: FaultProxy
    config: StorageConfig  # publishes through the proxy
    renders: Renders

    @property
    def index_url(self) -> str:
        return f"{self.endpoint}/{self.bucket}/{PREFIX}/index.json"

    def live_index(self) -> bytes:
        return fetch(self.index_url)

    def check_live(self, out_dir: Path) -> bytes:
        """The live index is ``out_dir``'s, and every URL in it serves the bytes of the local
        file the local index lists at the same place. Returns the live index's bytes."""
        raw = self.live_index()
        live, local = json.loads(raw), json.loads((out_dir / "index.json").read_text())
        assert {k: v for k, v in live.items() if k not in ("published_at", "case_studies")} == {
            k: v for k, v in local.items() if k != "case_studies"
        }
        pairs = list(zip(file_urls(live), file_urls(local), strict=True))
        assert len(pairs) >= 10
        base = f"{self.endpoint}/{self.bucket}/{PREFIX}/"
        for (where, url), (where_local, rel) in pairs:
            assert where == where_local
            assert url.startswith(base), url
            assert sha256(fetch(url)) == sha256((out_dir / rel).read_bytes()), (where, url)
        return raw

    def publish(
        self, out_dir: Path, config: StorageConfig | None = None, **kw: Any
    ) -> PublishReport:
        return publish(out_dir, config or self.config, **kw)

    def log_since(self, start: int) -> list[dict[str, Any]]:
        return self.proxy.requests()[start:]


def make_config(bucket: str, via: str, public: str, **env: str) -> StorageConfig:
    return storage_config(
        None,
        {
            "PIPELINE_STORAGE": "s3",
            "PIPELINE_S3_BUCKET": bucket,
            "PIPELINE_S3_ENDPOINT_URL": via,
            "PIPELINE_S3_PREFIX": PREFIX,
            "PIPELINE_S3_REGION": REGION,
            "PIPELINE_PUBLIC_BASE_URL": f"{public}/{bucket}",
            "PIPELINE_S3_MAX_ATTEMPTS": "5",  # the default, pinned: the counts below rely on it
            **env,
        },
    )


@pytest.fixture
def site(fake_aws_credentials, s3_endpoint, s3_bucket, fault_proxy, renders) -> Site:
    config = make_config(s3_bucket, fault_proxy.url, s3_endpoint)
    return Site(s3_endpoint, s3_bucket, fault_proxy, config, renders)


def published_v1(site: Site) -> bytes:
    report = site.publish(site.renders.v1)
    assert report.index_action == "created" and len(report.uploaded) >= 10
    return site.check_live(site.renders.v1)


def v2_new_keys(site: Site) -> set[str]:
    """Keys v2 needs that v1 did not put there (from a dry run, which sends nothing)."""
    plan = site.publish(site.renders.v2, dry_run=True).planned
    return {p.key for p in plan if p.upload}


def answered(entry: dict[str, Any]) -> bool:
    """The server's own answer came back (a 404 from a HEAD of a free key counts)."""
    return entry["fault"] is None and isinstance(entry["status"], int) and entry["status"] < 500


def retried(entries: list[dict[str, Any]], fault: str) -> list[dict[str, Any]]:
    """The requests that met ``fault``; asserts each was sent again later and answered."""
    hit = [e for e in entries if e["fault"] == fault]
    for e in hit:
        again = [
            x
            for x in entries
            if x["seq"] > e["seq"] and (x["method"], x["path"]) == (e["method"], e["path"])
        ]
        assert any(answered(x) for x in again), e
    return hit


def key_of(entry: dict[str, Any], bucket: str) -> str:
    path = entry["path"].split("?", 1)[0]
    return urllib.parse.unquote(path.removeprefix(f"/{bucket}/"))


# ---------------------------------------------------------------------------------------
# Faults botocore rides out
# ---------------------------------------------------------------------------------------


def test_healthy_proxy_publishes_and_republishes_nothing(site: Site) -> None:
    published_v1(site)
    again = site.publish(site.renders.v1)
    assert again.uploaded == [] and again.index_action == "unchanged"
    # 404s are the HEADs that find a key free; nothing else but successes
    assert {(r["fault"], r["status"]) for r in site.proxy.requests()} <= {(None, 200), (None, 404)}


def test_503_slowdown_on_uploads_is_retried(site: Site) -> None:
    v1 = published_v1(site)
    new = v2_new_keys(site)
    start = len(site.proxy.requests())
    site.proxy.fail_next(3, status=503, method="PUT")
    report = site.publish(site.renders.v2)
    hit = retried(site.log_since(start), "503")
    assert len(hit) == 3 and {key_of(e, site.bucket) for e in hit} <= new
    assert {k for k, _ in report.uploaded} == new
    assert site.check_live(site.renders.v2) != v1


def test_500_internal_errors_are_retried_on_every_kind_of_request(site: Site) -> None:
    published_v1(site)
    start = len(site.proxy.requests())
    # one of each: the HEAD and the GET of the live index, the first upload; and two more
    # on the first HEAD, so that one request is retried three times
    for method in ("HEAD", "GET", "PUT"):
        site.proxy.fail_next(1, status=500, method=method)
    site.proxy.fail_next(2, status=500, method="HEAD")
    site.publish(site.renders.v2)
    hit = retried(site.log_since(start), "500")
    assert Counter(e["method"] for e in hit) == {"HEAD": 3, "GET": 1, "PUT": 1}
    assert max(Counter((e["method"], e["path"]) for e in hit).values()) == 3
    site.check_live(site.renders.v2)


def test_uploads_dropped_mid_body_are_retried(site: Site) -> None:
    published_v1(site)
    new = v2_new_keys(site)
    start = len(site.proxy.requests())
    site.proxy.drop_next(3, after_bytes=8192, method="PUT")
    report = site.publish(site.renders.v2)
    hit = retried(site.log_since(start), "drop")
    assert len(hit) == 3 and all(0 < e["body_bytes"] <= 8192 for e in hit)
    assert {key_of(e, site.bucket) for e in hit} <= new
    assert {k for k, _ in report.uploaded} == new
    site.check_live(site.renders.v2)


# ---------------------------------------------------------------------------------------
# Faults that outlast the retries: the previous index stands, the next publish completes
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["503-uploads", "500-index-put", "drop-uploads"])
def test_fault_outlasting_retries_leaves_previous_index_live(site: Site, fault: str) -> None:
    v1 = published_v1(site)
    new = v2_new_keys(site)
    start = len(site.proxy.requests())
    if fault == "503-uploads":
        site.proxy.fail_next(1000, status=503, method="PUT")
    elif fault == "500-index-put":
        site.proxy.fail_next(1000, status=500, method="PUT", path=f"/{PREFIX}/index.json")
    else:
        site.proxy.drop_next(1000, after_bytes=4096, method="PUT")
    # two attempts per request (the default is 5: a slower test, the same outcome)
    with pytest.raises(PublishError) as err:
        site.publish(site.renders.v2, replace(site.config, max_attempts=2))
    assert "index.json" in str(err.value)
    failed = Counter(
        (e["method"], e["path"]) for e in site.log_since(start) if e["fault"] is not None
    )
    assert failed and set(failed.values()) == {2}, failed  # each tried twice, never more
    assert site.check_live(site.renders.v1) == v1  # byte for byte the previous index

    site.proxy.clear()
    report = site.publish(site.renders.v2)
    assert report.index_action == "replaced"
    if fault == "500-index-put":  # every file went up before the index PUT failed
        assert report.uploaded == [] and {k for k, _ in report.skipped} >= new
    else:
        assert {k for k, _ in report.uploaded} <= new
    site.check_live(site.renders.v2)


def test_proxy_killed_mid_publish_then_restarted(site: Site) -> None:
    v1 = published_v1(site)
    new = v2_new_keys(site)
    start = len(site.proxy.requests())
    killed = threading.Event()

    def kill_after_first_object(sent: int, total: int) -> None:
        # called as bytes are read for sending: with one upload at a time, the first call
        # after an object's 200 is logged is the next object going out
        if not killed.is_set() and any(
            e["method"] == "PUT" and e["status"] == 200 for e in site.log_since(start)
        ):
            site.proxy.kill()
            killed.set()

    one_at_a_time = replace(site.config, max_concurrency=1, max_attempts=1)
    with pytest.raises(PublishError):
        site.publish(site.renders.v2, one_at_a_time, progress=kill_after_first_object)
    assert killed.is_set() and not site.proxy.alive
    before_kill = site.log_since(start)
    stored = {
        key_of(e, site.bucket) for e in before_kill if e["method"] == "PUT" and e["status"] == 200
    }
    assert len(stored) == 1 and stored <= new
    assert not any("index.json" in e["path"] for e in before_kill if e["method"] == "PUT")
    assert site.check_live(site.renders.v1) == v1

    site.proxy.restart()
    report = site.publish(site.renders.v2)
    assert report.index_action == "replaced"
    assert stored <= {k for k, _ in report.skipped}  # what went up before the kill is kept
    assert {k for k, _ in report.uploaded} == new - stored
    site.check_live(site.renders.v2)


# ---------------------------------------------------------------------------------------
# Credentials never reach the output
# ---------------------------------------------------------------------------------------


def forms(value: str) -> set[str]:
    return {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}


@pytest.mark.parametrize("urls", ["public", "presigned"])
def test_credentials_never_appear_in_debug_output(
    fake_aws_credentials, s3_endpoint, s3_bucket, fault_proxy, renders, urls
) -> None:
    """The command line at -vvv (botocore's DEBUG narration included), through a retried
    503 (and, once, a publish that fails): neither fake key appears in stdout or stderr, in
    any spelling, even where Rich wrapped a line."""
    key_id, secret = fake_aws_credentials
    env = {
        **os.environ,
        "PIPELINE_STORAGE": "s3",
        "PIPELINE_S3_BUCKET": s3_bucket,
        "PIPELINE_S3_ENDPOINT_URL": fault_proxy.url,
        "PIPELINE_S3_PREFIX": PREFIX,
        "PIPELINE_S3_REGION": REGION,
        "PIPELINE_PUBLIC_BASE_URL": f"{s3_endpoint}/{s3_bucket}",
        "PIPELINE_URLS": urls,
        "PIPELINE_S3_MAX_ATTEMPTS": "2",
        "COLUMNS": "200",
    }
    argv = [
        sys.executable,
        "-m",
        "pipeline",
        "-vvv",
        "-m",
        str(renders.v1_root / "manifests"),
        "publish",
    ]

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)

    fault_proxy.fail_next(1, status=503, method="PUT")
    ok = run()
    assert ok.returncode == 0, ok.stderr[-3000:]
    output = ok.stdout + ok.stderr
    if urls == "public":  # and a publish that fails, for the error path's messages
        fault_proxy.fail_next(1000, status=503)
        failed = run()
        assert failed.returncode != 0 and "503" in failed.stderr
        output += failed.stdout + failed.stderr
    # Rich wraps long lines: a key split across a line break must be found too
    collapsed = "".join(output.split())
    for value in (key_id, secret):
        for form in forms(value):
            assert form not in output and form not in collapsed, f"{value[:4]}... in the output"
    # and the check means something: botocore narrated its signed requests, masked
    assert "Authorization" in output and "Credential=<redacted>" in collapsed
    assert any(e["status"] == 503 for e in fault_proxy.requests())
