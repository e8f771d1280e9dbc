"""Publishing to S3, end to end against a real S3 server (moto's, in its own process, spoken
to over HTTP exactly like AWS, MinIO or R2; nothing in boto3 is patched).

A tiny campaign is rendered once (two outputs with captions, posters, thumbnails and a
contact sheet: every kind of file the index lists); each test publishes it to a fresh bucket
and then reads what it published over plain HTTP, as the web team's page would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pipeline.cli import main
from pipeline.errors import PublishError, StorageConfigError
from pipeline.index import schema as index_schema
from pipeline.manifest import StorageSettings
from pipeline.objects import content_key, url_fields
from pipeline.publish import history, publish, rollback
from pipeline.storage import StorageConfig, storage_config
from tests.clips import make_clip
from tests.s3server import s3_client

pytestmark = pytest.mark.usefixtures("fake_aws_credentials")

STUDY = """\
id: pub-study
title: Publishing test
area: Testshire
source: ../media/clip.mp4
captions:
  en: ../media/clip.en.vtt
cuts:
  main: [[0, 3]]
outputs:
  - {platform: web, cut: main, aspects: ["16:9"]}
  - {platform: x, cut: main, aspects: ["1:1"]}
"""
CAMPAIGN = """\
name: Publish test
hashtag: "#PublishTest"
defaults:
  encoder: {preset: superfast, crf: 30}
  end_card: false
stills:
  thumbnails: 1
"""
VTT = (
    "WEBVTT\n\n00:00:00.000 --> 00:00:01.400\nHello there.\n\n"
    "00:00:01.500 --> 00:00:02.900\nA test.\n"
)
# Both videos (330 KB and 810 KB) go up as multipart uploads, everything else in one PUT.
SMALL_THRESHOLD = "256KiB"
IMMUTABLE = "public, max-age=31536000, immutable"
EXPECTED_TYPES = {
    ".mp4": "video/mp4",
    ".vtt": "text/vtt",
    ".srt": "application/x-subrip",
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Rendered once through the CLI; tests that change files work on a copy."""
    root = tmp_path_factory.mktemp("publish")
    (root / "manifests").mkdir()
    (root / "manifests" / "campaign.yaml").write_text(CAMPAIGN)
    (root / "manifests" / "study.yaml").write_text(STUDY)
    (root / "media").mkdir()
    (root / "media" / "clip.en.vtt").write_text(VTT)
    make_clip(root / "media" / "clip.mp4", size=(320, 180), duration=3.0)
    assert main(["-q", "-m", str(root / "manifests"), "render"]) == 0
    return root


@pytest.fixture
def copy(project: Path, tmp_path: Path) -> Path:
    target = tmp_path / "proj"
    shutil.copytree(project, target)
    return target


def config(endpoint: str, bucket: str, **env: str) -> StorageConfig:
    base = {
        "PIPELINE_STORAGE": "s3",
        "PIPELINE_S3_BUCKET": bucket,
        "PIPELINE_S3_PREFIX": "campaign",
        "PIPELINE_S3_ENDPOINT_URL": endpoint,
        "PIPELINE_S3_ADDRESSING_STYLE": "path",
        "PIPELINE_S3_MULTIPART_THRESHOLD": SMALL_THRESHOLD,
    }
    return storage_config(None, {**base, **env})


def fetch(url: str) -> tuple[bytes, dict[str, str]]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read(), {k.lower(): v for k, v in resp.headers.items()}


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def local_index(root: Path) -> dict[str, Any]:
    return dict(json.loads((root / "out" / "index.json").read_text()))


def published_pairs(root: Path, index_url: str) -> list[tuple[str, str]]:
    """(local path, published URL) for every file URL, matched field by field: the published
    index is the local one with its URLs replaced."""
    published, _ = fetch(index_url)
    local = [h[n] for h, n in url_fields(local_index(root))]
    remote = [h[n] for h, n in url_fields(json.loads(published))]
    assert len(local) == len(remote) > 0
    return list(zip(local, remote, strict=True))


def bucket_keys(endpoint: str, bucket: str) -> list[str]:
    listing = s3_client(endpoint).list_objects_v2(Bucket=bucket)
    return sorted(o["Key"] for o in listing.get("Contents", []))


# ---------------------------------------------------------------------------------------


def test_every_url_in_the_published_index_serves_the_verified_bytes(
    project, s3_endpoint, s3_bucket
):
    cfg = config(s3_endpoint, s3_bucket)
    report = publish(project / "out", cfg)

    files = {rel for rel, _ in published_pairs(project, report.index_url)}
    assert len(report.uploaded) == len(files) == 13 and report.skipped == []
    assert report.index_action == "created" and report.history_key is None
    body, headers = fetch(report.index_url)
    assert report.index_url == f"{s3_endpoint}/{s3_bucket}/campaign/index.json"
    assert headers["content-type"] == "application/json"
    assert headers["cache-control"] == "no-cache"
    index = json.loads(body)
    jsonschema.validate(index, index_schema(), format_checker=jsonschema.FormatChecker())
    assert index["published_at"].endswith("Z") and "urls_expire_at" not in index

    for rel, url in published_pairs(project, report.index_url):
        data, headers = fetch(url)
        assert sha(data) == sha((project / "out" / rel).read_bytes()), rel
        assert headers["content-type"] == EXPECTED_TYPES[Path(rel).suffix], rel
        assert headers["cache-control"] == IMMUTABLE, rel
        # the key is the output path with the content's hash in it
        key = content_key("campaign", rel, sha(data))
        assert url == f"{s3_endpoint}/{s3_bucket}/{key}"
    # the index's own sha256 fields still describe what the URLs serve
    for out in index["case_studies"][0]["outputs"]:
        assert sha(fetch(out["url"])[0]) == out["sha256"]

    # each object was read back and compared: videos as multipart uploads (S3's composite
    # checksum of the parts), the rest as single PUTs (the file's own SHA-256)
    how = {key.rsplit(".", 1)[-1]: v for key, v in report.verified.items()}
    assert how["mp4"] == "composite sha256 checksum of 1 part(s)"
    assert how["vtt"] == how["jpg"] == "sha256 checksum"


def test_keys_are_readable_and_keep_caption_suffixes_last():
    digest = "3fa2b9c1d4e5f607" + "0" * 48
    assert (
        content_key("campaign", "avon/short/x-1280x720.mp4", digest)
        == "campaign/avon/short/x-1280x720.3fa2b9c1d4e5f607.mp4"
    )
    # Facebook's upload flow reads the language from name.<lang>_<COUNTRY>.srt
    assert content_key("", "a/x.en_GB.srt", digest) == "a/x.3fa2b9c1d4e5f607.en_GB.srt"
    assert content_key("p/q", "a/16x9-1.jpg", digest) == "p/q/a/16x9-1.3fa2b9c1d4e5f607.jpg"


def test_republishing_an_unchanged_campaign_sends_nothing(copy, s3_endpoint, s3_bucket):
    cfg = config(s3_endpoint, s3_bucket)
    first = publish(copy / "out", cfg)
    # a no-op render rewrites the local index with a new generated_at: still nothing to do
    doc = local_index(copy)
    doc["generated_at"] = "2030-01-01T00:00:00Z"
    (copy / "out" / "index.json").write_text(json.dumps(doc))
    sent: list[tuple[int, int]] = []
    second = publish(copy / "out", cfg, progress=lambda done, total: sent.append((done, total)))

    assert first.uploaded_bytes > 1_000_000
    assert second.uploaded == [] and second.uploaded_bytes == 0
    assert sorted(second.skipped) == sorted(first.uploaded)
    assert sent == [(0, 0)]
    assert second.index_action == "unchanged" and second.history_key is None
    assert history(cfg) == []
    assert {p.reason for p in second.planned} == {"present: skip"}


def test_a_changed_file_gets_a_new_key_and_the_old_url_still_resolves(copy, s3_endpoint, s3_bucket):
    cfg = config(s3_endpoint, s3_bucket)
    first = publish(copy / "out", cfg)
    old = dict(published_pairs(copy, first.index_url))
    vtt = "pub-study/main/web-1920x1080.en.vtt"
    before = (copy / "out" / vtt).read_bytes()
    (copy / "out" / vtt).write_text(VTT.replace("A test.", "A changed test."))

    dry = publish(copy / "out", cfg, dry_run=True)
    (changed,) = [p for p in dry.planned if p.upload]
    assert changed.rel == vtt
    assert changed.reason == f"changed (was {Path(old[vtt]).name})"

    second = publish(copy / "out", cfg)
    new = dict(published_pairs(copy, second.index_url))
    assert [k for k, _ in second.uploaded] == [changed.key]
    assert new[vtt] != old[vtt] and fetch(new[vtt])[0] == (copy / "out" / vtt).read_bytes()
    # the previous index and everything it lists still resolve
    assert fetch(old[vtt])[0] == before
    assert all(status(url) == 200 for url in old.values())
    assert second.index_action == "replaced"
    (kept,) = history(cfg)
    assert second.history_key == kept.key and not kept.live


def test_a_video_changed_since_verify_is_refused(copy, s3_endpoint, s3_bucket):
    cfg = config(s3_endpoint, s3_bucket)
    publish(copy / "out", cfg)
    live_before = fetch(f"{s3_endpoint}/{s3_bucket}/campaign/index.json")[0]
    video = copy / "out" / "pub-study" / "main" / "x-720x720.mp4"
    video.write_bytes(video.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(PublishError, match=r"x-720x720\.mp4 changed since it was verified"):
        publish(copy / "out", cfg)
    assert fetch(f"{s3_endpoint}/{s3_bucket}/campaign/index.json")[0] == live_before


def test_a_file_altered_during_upload_is_caught_and_the_live_index_stands(
    copy, s3_endpoint, s3_bucket
):
    """The file is hashed, then changed (same size) just before it is sent: the store's
    checksum of what arrived no longer matches the hash, the object is removed, and the live
    index is untouched. The next run publishes the file as it now is."""
    cfg = config(s3_endpoint, s3_bucket)
    first = publish(copy / "out", cfg)
    live_before = fetch(first.index_url)[0]
    vtt = copy / "out" / "pub-study" / "main" / "x-720x720.en.vtt"
    meant = VTT.replace("A test.", "B test.")
    vtt.write_text(meant)  # new content: a new key to send

    def tamper(done: int, total: int) -> None:
        if done == 0:  # called once before anything is sent
            vtt.write_text(VTT.replace("A test.", "C test."))

    with pytest.raises(PublishError, match="does not match the local file") as err:
        publish(copy / "out", cfg, progress=tamper)
    assert "index.json not changed" in str(err.value)
    bad_key = content_key("campaign", "pub-study/main/x-720x720.en.vtt", sha(meant.encode()))
    assert bad_key not in bucket_keys(s3_endpoint, s3_bucket)
    assert fetch(first.index_url)[0] == live_before
    live = json.loads(live_before)
    assert all(status(h[n]) == 200 for h, n in url_fields(live))

    again = publish(copy / "out", cfg)
    assert len(again.uploaded) == 1 and again.index_action == "replaced"
    now = dict(published_pairs(copy, again.index_url))["pub-study/main/x-720x720.en.vtt"]
    assert fetch(now)[0] == vtt.read_bytes()


def test_dry_run_lists_what_would_go_and_why_and_sends_nothing(project, s3_endpoint, s3_bucket):
    cfg = config(s3_endpoint, s3_bucket)
    dry = publish(project / "out", cfg, dry_run=True)
    assert bucket_keys(s3_endpoint, s3_bucket) == []
    assert dry.uploaded == [] and dry.index_action == "would create"
    assert len(dry.planned) == 13 and all(p.upload and p.reason == "new" for p in dry.planned)
    assert sum(p.bytes for p in dry.planned) > 1_000_000

    publish(project / "out", cfg)
    keys = bucket_keys(s3_endpoint, s3_bucket)
    dry = publish(project / "out", cfg, dry_run=True)
    assert bucket_keys(s3_endpoint, s3_bucket) == keys
    assert all(not p.upload and p.reason == "present: skip" for p in dry.planned)
    assert dry.index_action == "would leave unchanged"


def test_presigned_urls_open_a_private_bucket(project, s3_endpoint):
    private = "private-" + os.urandom(6).hex()
    s3_client(s3_endpoint).create_bucket(Bucket=private)  # no public-read policy
    # single PUTs only: moto 5.2.5 leaves multipart uploads without an ACL, and then serves
    # them to anyone, which would make the 403 checks below meaningless
    cfg = config(
        s3_endpoint,
        private,
        PIPELINE_URLS="presigned",
        PIPELINE_PRESIGN_EXPIRES="3600",
        PIPELINE_S3_MULTIPART_THRESHOLD="64MiB",
    )
    report = publish(project / "out", cfg)

    assert "X-Amz-Signature=" in report.index_url
    assert status(report.index_url.split("?")[0]) == 403  # not without the signature
    index = json.loads(fetch(report.index_url)[0])
    assert index["urls_expire_at"] > index["published_at"]
    for rel, url in published_pairs(project, report.index_url):
        assert "X-Amz-Expires=3600" in url
        assert status(url.split("?")[0]) == 403
        assert sha(fetch(url)[0]) == sha((project / "out" / rel).read_bytes())
    # publishing again renews the signatures: a new index, but no object is sent again
    again = publish(project / "out", cfg)
    assert again.uploaded == [] and again.index_action == "replaced"


def test_public_base_url_builds_the_index_urls(project, s3_endpoint, s3_bucket):
    cdn = "https://cdn.example.test/media"
    cfg = config(s3_endpoint, s3_bucket, PIPELINE_PUBLIC_BASE_URL=cdn + "/")
    report = publish(project / "out", cfg)
    assert report.index_url == f"{cdn}/campaign/index.json"
    # The CDN is imaginary: its origin is the bucket, so read through that.
    origin = f"{s3_endpoint}/{s3_bucket}"
    index = json.loads(fetch(f"{origin}/campaign/index.json")[0])
    for holder, name in url_fields(index):
        assert holder[name].startswith(f"{cdn}/campaign/pub-study/")
        assert status(holder[name].replace(cdn, origin)) == 200


def test_environment_overrides_the_campaign_file():
    campaign = StorageSettings.model_validate(
        {"backend": "s3", "bucket": "from-campaign", "prefix": "/camp/", "urls": "public"}
    )
    cfg = storage_config(
        campaign,
        {
            "PIPELINE_S3_BUCKET": "from-env",
            "PIPELINE_URLS": "presigned",
            "PIPELINE_PRESIGN_EXPIRES": "3600",
            "PIPELINE_S3_MULTIPART_THRESHOLD": "64KiB",
            "PIPELINE_S3_RETRY_MODE": "adaptive",
            "PIPELINE_S3_REGION": "",  # empty: unset, the campaign's value stays
        },
    )
    assert (cfg.backend, cfg.bucket, cfg.prefix, cfg.urls) == (
        "s3",
        "from-env",
        "camp",
        "presigned",
    )
    assert (cfg.presign_expires_s, cfg.multipart_threshold, cfg.retry_mode) == (
        3600,
        65536,
        "adaptive",
    )
    assert cfg.endpoint_url is None  # boto3 then applies AWS_ENDPOINT_URL(_S3) itself
    assert storage_config(None, {}).backend == "local"

    with pytest.raises(StorageConfigError, match=r"PIPELINE_URLS: 'signed' is not allowed"):
        storage_config(campaign, {"PIPELINE_URLS": "signed"})
    with pytest.raises(StorageConfigError, match="PIPELINE_PRESIGN_EXPIRES"):
        storage_config(campaign, {"PIPELINE_PRESIGN_EXPIRES": "9999999"})
    with pytest.raises(StorageConfigError, match="needs a bucket"):
        storage_config(None, {"PIPELINE_STORAGE": "s3"})


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"])
def test_boto3s_own_endpoint_variables_are_honoured(
    project, s3_endpoint, s3_bucket, monkeypatch, variable
):
    monkeypatch.setenv(variable, s3_endpoint)
    cfg = config(s3_endpoint, s3_bucket, PIPELINE_S3_ENDPOINT_URL="")  # none configured
    assert cfg.endpoint_url is None
    report = publish(project / "out", cfg)
    assert report.index_url == f"{s3_endpoint}/{s3_bucket}/campaign/index.json"
    assert len(bucket_keys(s3_endpoint, s3_bucket)) == 16  # 13 files, 2 review pages and index.json


def test_rollback_restores_the_previous_index(copy, s3_endpoint, s3_bucket):
    cfg = config(s3_endpoint, s3_bucket)
    index_url = f"{s3_endpoint}/{s3_bucket}/campaign/index.json"
    publish(copy / "out", cfg)
    v1 = json.loads(fetch(index_url)[0])
    (copy / "out" / "pub-study/main/web-1920x1080.en.vtt").write_text(VTT + "\n")
    publish(copy / "out", cfg)
    v2 = json.loads(fetch(index_url)[0])
    assert v1 != v2

    done = rollback(cfg)
    assert json.loads(fetch(index_url)[0]) == v1
    assert done.checked == 13 and done.history_key is not None
    names = [e.name for e in history(cfg)]
    assert len(names) == 2 and history(cfg)[0].live  # v1 is live again; v2 is kept
    with pytest.raises(PublishError, match="no kept index is older than the live one"):
        rollback(cfg)
    rollback(cfg, to=names[1][:-4])  # forward again, by the start of its name
    assert json.loads(fetch(index_url)[0]) == v2

    # an index whose objects are gone is not restored
    gone = next(h[n] for h, n in url_fields(v1) if n == "url" and h[n].endswith(".mp4"))
    s3_client(s3_endpoint).delete_object(Bucket=s3_bucket, Key=gone.split(f"/{s3_bucket}/", 1)[1])
    with pytest.raises(PublishError, match=r"1 object\(s\) it lists are gone"):
        rollback(cfg, to=names[0])
    assert json.loads(fetch(index_url)[0]) == v2


def test_large_files_go_up_in_parts_and_are_checked_part_by_part(tmp_path, s3_endpoint, s3_bucket):
    """11 MiB in 5 MiB parts: three parts uploaded in parallel, and S3's composite checksum
    (SHA-256 of the parts' SHA-256s) recomputed from the local file and compared."""
    out = tmp_path / "out"
    (out / "big").mkdir(parents=True)
    data = os.urandom(11 * 1024 * 1024)
    (out / "big" / "web-1920x1080.mp4").write_bytes(data)
    index = {
        "campaign": "Big",
        "generated_at": "2026-01-01T00:00:00Z",
        "case_studies": [
            {"id": "big", "outputs": [{"url": "big/web-1920x1080.mp4", "sha256": sha(data)}]}
        ],
    }
    (out / "index.json").write_text(json.dumps(index))
    cfg = config(
        s3_endpoint,
        s3_bucket,
        PIPELINE_S3_MULTIPART_THRESHOLD="5MiB",
        PIPELINE_S3_MULTIPART_CHUNKSIZE="5MiB",
    )
    sent: list[int] = []
    report = publish(out, cfg, progress=lambda done, total: sent.append(done))
    (key,) = [k for k, _ in report.uploaded]
    assert report.verified[key] == "composite sha256 checksum of 3 part(s)"
    assert sent[-1] == len(data) and len(sent) > 3

    head = s3_client(s3_endpoint).head_object(Bucket=s3_bucket, Key=key, ChecksumMode="ENABLED")
    parts = [
        hashlib.sha256(data[i : i + 5 * 1024 * 1024]).digest()
        for i in range(0, len(data), 5 * 1024 * 1024)
    ]
    composite = base64.b64encode(hashlib.sha256(b"".join(parts)).digest()).decode()
    assert head["ChecksumSHA256"].partition("-")[0] == composite  # moto: no "-3" suffix
    assert head["ETag"].endswith('-3"')
    assert sha(fetch(f"{s3_endpoint}/{s3_bucket}/{key}")[0]) == sha(data)
    # a later publish with another part size still recognises it (part size in metadata)
    cfg = config(s3_endpoint, s3_bucket, PIPELINE_S3_MULTIPART_CHUNKSIZE="6MiB")
    assert publish(out, cfg).uploaded == []


def test_credentials_never_reach_logs_or_output(
    project, s3_endpoint, s3_bucket, fake_aws_credentials, caplog, capsys, monkeypatch
):
    key_id, secret = fake_aws_credentials
    # only caplog listens (not a console handler an earlier CLI run left on the root logger,
    # which would spend seconds drawing botocore's DEBUG output)
    monkeypatch.setattr(logging.getLogger(), "handlers", [caplog.handler])
    for name in ("", "botocore", "boto3", "s3transfer", "urllib3", "pipeline"):
        caplog.set_level(logging.DEBUG, logger=name or None)
    publish(project / "out", config(s3_endpoint, s3_bucket, PIPELINE_URLS="presigned"))
    with pytest.raises(PublishError) as err:
        publish(project / "out", config(s3_endpoint, "no-such-bucket-here"))
    # botocore really did log its signed requests, and they were scrubbed
    assert "Authorization" in caplog.text and "Credential=<redacted>" in caplog.text
    logged = caplog.text + str(err.value)

    # and the command line, verbose, presigned URLs and all
    env = {"PIPELINE_STORAGE": "s3", "PIPELINE_S3_BUCKET": s3_bucket, "PIPELINE_URLS": "presigned"}
    env |= {"PIPELINE_S3_ENDPOINT_URL": s3_endpoint, "PIPELINE_S3_ADDRESSING_STYLE": "path"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    manifests = str(project / "manifests")
    assert main(["-vv", "-m", manifests, "publish"]) == 0
    assert main(["-vvv", "-m", manifests, "publish", "--dry-run"]) == 0  # botocore's DEBUG too
    printed = capsys.readouterr()
    assert "published 13 objects" in printed.err and "presigned" in printed.err
    for text in (logged, printed.out, printed.err):
        assert key_id not in text and secret not in text


def test_the_publish_command(copy, s3_endpoint, s3_bucket, monkeypatch, capsys):
    env = {"PIPELINE_STORAGE": "s3", "PIPELINE_S3_BUCKET": s3_bucket, "PIPELINE_S3_PREFIX": "c"}
    env |= {"PIPELINE_S3_ENDPOINT_URL": s3_endpoint, "PIPELINE_S3_ADDRESSING_STYLE": "path"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    manifests = str(copy / "manifests")

    assert main(["-m", manifests, "publish", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would upload 13 objects" in out and "c/index.json: would create" in out
    assert "c/pub-study/main/x-720x720." in out and " new " in out
    assert bucket_keys(s3_endpoint, s3_bucket) == []

    assert main(["-m", manifests, "publish"]) == 0
    err = capsys.readouterr().err
    assert "published 13 objects" in err and "skipped 0 already present" in err
    assert f"index (created): {s3_endpoint}/{s3_bucket}/c/index.json" in err

    (copy / "out" / "pub-study/main/x-720x720.en.vtt").write_text(VTT + "\n")
    assert main(["-m", manifests, "publish"]) == 0
    err = capsys.readouterr().err
    assert "published 1 objects" in err and "skipped 12 already present" in err
    assert "previous index kept as c/index-history/" in err

    assert main(["-m", manifests, "publish", "--history"]) == 0
    (kept,) = history(storage_config(None, os.environ))
    assert kept.name in capsys.readouterr().out
    assert main(["-m", manifests, "publish", "--rollback"]) == 0
    assert "rolled back: index.json is now the one published" in capsys.readouterr().err
    assert main(["-m", manifests, "publish", "--rollback", "nope"]) == 1
    assert "matches none of the kept indexes" in capsys.readouterr().err


def test_render_publish_publishes_after_a_clean_render(copy, s3_endpoint, s3_bucket, monkeypatch):
    for name, value in {
        "PIPELINE_STORAGE": "s3",
        "PIPELINE_S3_BUCKET": s3_bucket,
        "PIPELINE_S3_ENDPOINT_URL": s3_endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["-q", "-m", str(copy / "manifests"), "render", "--publish"]) == 0
    assert len(bucket_keys(s3_endpoint, s3_bucket)) == 16  # 13 files, 2 review pages and index.json

    monkeypatch.setenv("PIPELINE_S3_BUCKET", "missing-bucket-" + os.urandom(4).hex())
    # a storage that cannot be reached fails before the render, not after it
    video = copy / "out" / "pub-study" / "main" / "x-720x720.mp4"
    rendered_at = video.stat().st_mtime_ns
    assert main(["-q", "-m", str(copy / "manifests"), "render", "--publish", "--force"]) == 1
    assert video.stat().st_mtime_ns == rendered_at


def test_render_publish_keeps_the_live_index_when_an_output_fails(
    copy, s3_endpoint, s3_bucket, monkeypatch, capsys
):
    """A partial index would drop the failed outputs from the page: not published."""
    import dataclasses

    import pipeline.build as build

    real = build.verify_output

    def fail_x(out, out_dir, **kw):
        check = real(out, out_dir, **kw)
        if out.platform == "x":
            return dataclasses.replace(check, passed=False, failures=("forced for the test",))
        return check

    monkeypatch.setattr(build, "verify_output", fail_x)
    # the copy's outputs are current and their verify findings kept in the lock: drop those,
    # so this render reads every output back again
    lock = copy / "out" / ".pipeline" / "lock.json"
    entries = json.loads(lock.read_text())
    for entry in entries.values():
        entry.pop("verify", None)
    lock.write_text(json.dumps(entries))
    for name, value in {
        "PIPELINE_STORAGE": "s3",
        "PIPELINE_S3_BUCKET": s3_bucket,
        "PIPELINE_S3_ENDPOINT_URL": s3_endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["-q", "-m", str(copy / "manifests"), "render", "--publish"]) == 1
    assert "not published to s3://" in capsys.readouterr().err
    assert bucket_keys(s3_endpoint, s3_bucket) == []


def test_local_storage_publishes_the_output_folder_as_it_is(project):
    index = (project / "out" / "index.json").read_bytes()
    report = publish(project / "out", storage_config(None, {}))
    assert report.uploaded == [] and len(report.skipped) == 13
    assert report.index_action == "local"
    assert (project / "out" / "index.json").read_bytes() == index
    with pytest.raises(PublishError, match="needs remote storage"):
        rollback(storage_config(None, {}))


def test_review_pages_are_published_and_every_link_resolves_in_the_bucket(
    project, s3_endpoint, s3_bucket
):
    """The review site goes up beside index.json; each page's links are relative paths to
    the content-addressed keys, so they resolve wherever the bucket is served."""
    from html.parser import HTMLParser
    from urllib.parse import urljoin

    report = publish(project / "out", config(s3_endpoint, s3_bucket))
    assert report.review_url == f"{s3_endpoint}/{s3_bucket}/campaign/review/index.html"
    body, headers = fetch(report.review_url)
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["cache-control"] == "no-cache"

    class Links(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.refs: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.refs += [v for k, v in attrs if k in ("src", "href", "poster") and v]

    overview = Links()
    overview.feed(body.decode())
    pages = [r for r in overview.refs if r.endswith(".html")]
    assert pages == ["pub-study.html"]
    page_url = urljoin(report.review_url, pages[0])
    page = Links()
    page.feed(fetch(page_url)[0].decode())
    assert page.refs
    local = {
        sha((project / "out" / rel).read_bytes())
        for rel, _ in published_pairs(project, report.index_url)
    }
    for ref in {*overview.refs, *page.refs} - {"index.html", "pub-study.html", "#main"}:
        assert "://" not in ref and not ref.startswith("/"), ref
        data, _ = fetch(urljoin(page_url, ref))
        assert sha(data) in local, ref  # a published file, byte for byte

    # nothing changed: the pages are not sent again
    again = publish(project / "out", config(s3_endpoint, s3_bucket))
    assert again.uploaded == [] and again.index_action == "unchanged"
