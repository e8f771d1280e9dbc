"""The sample campaign in manifests/ must always validate, plan and render: a test that
loads every file there, so the examples never rot."""

from __future__ import annotations

import hashlib
import json
import shutil
import urllib.request
from pathlib import Path

import jsonschema
import pytest

from pipeline.cli import main
from pipeline.index import schema as index_schema
from pipeline.manifest import json_schemas
from pipeline.manifest_load import load_manifests
from pipeline.objects import url_fields
from pipeline.probe import inspect_output

REPO = Path(__file__).resolve().parents[1]


def test_every_manifest_loads() -> None:
    manifests = load_manifests(REPO / "manifests")
    files = sorted(p.name for p in (REPO / "manifests").glob("*.yaml") if p.name != "campaign.yaml")
    assert sorted(c.file.name for c in manifests.case_studies) == files
    assert len(manifests.case_studies) >= 3
    aspects = {a for c in manifests.case_studies for o in c.study.outputs for a in o.aspects}
    platforms = {o.platform for c in manifests.case_studies for o in c.study.outputs}
    assert aspects == {"16:9", "1:1", "4:5", "9:16"}
    assert len(platforms) >= 4
    for c in manifests.case_studies:
        assert sum(len(o.aspects) for o in c.study.outputs) >= 4, c.study.id


def test_committed_schemas_are_current() -> None:
    generated = {f"{k}.schema.json": v for k, v in json_schemas().items()}
    generated["index.schema.json"] = index_schema()
    for name, body in generated.items():
        committed = json.loads((REPO / "schemas" / name).read_text())
        assert committed == body, f"schemas/{name} is stale: run `make schema`"


@pytest.fixture(scope="module")
def sample_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project's manifests with its sample footage, rendered fast.

    The copy only swaps the encoder preset for speed; every case study, cut and output is the
    real sample campaign's.
    """
    root = tmp_path_factory.mktemp("sample")
    shutil.copytree(REPO / "manifests", root / "manifests")
    campaign = root / "manifests" / "campaign.yaml"
    text = campaign.read_text()
    assert "    crf: 21" in text
    campaign.write_text(text.replace("    crf: 21", "    crf: 32\n    preset: superfast"))
    from pipeline.samples import make_samples
    from tests.clips import SHARED_MEDIA

    list(make_samples(root / "media", shared=SHARED_MEDIA if SHARED_MEDIA.is_dir() else None))
    return root


@pytest.mark.render
def test_sample_campaign_renders(sample_project: Path) -> None:
    manifests_dir = str(sample_project / "manifests")
    assert main(["-q", "-m", manifests_dir, "render", "-j", "2"]) == 0
    index = json.loads((sample_project / "out" / "index.json").read_text())
    jsonschema.validate(index, index_schema(), format_checker=jsonschema.FormatChecker())
    manifests = load_manifests(sample_project / "manifests")
    expected = sum(len(o.aspects) for c in manifests.case_studies for o in c.study.outputs)
    listed = [o for cs in index["case_studies"] for o in cs["outputs"]]
    assert len(listed) == expected
    assert all(cs["status"] == "ok" for cs in index["case_studies"])
    for o in listed:
        facts = inspect_output(sample_project / "out" / o["url"])
        assert (facts.width, facts.height) == (o["width"], o["height"])
        assert facts.bytes == o["bytes"]
        assert abs(float(facts.duration) - o["duration_s"]) < 0.05
        assert facts.moov_before_mdat
    # stills: a poster per output at its own size, covers where platforms take them, and
    # per case study thumbnails per aspect and a contact sheet, every file as listed
    out_dir = sample_project / "out"

    def image_ok(entry: dict[str, object], size: tuple[int, int] | None = None) -> None:
        from PIL import Image

        path = out_dir / str(entry["url"])
        with Image.open(path) as im:
            assert im.size == (entry["width"], entry["height"]), path.name
            assert size is None or im.size == size, path.name
        assert path.stat().st_size == entry["bytes"]

    for o in listed:
        assert o["poster"] is not None, o["url"]
        image_ok(o["poster"], (o["width"], o["height"]))
        assert (out_dir / o["poster"]["webp_url"]).is_file()
        assert 0 <= o["poster"]["time_s"] < o["duration_s"] - o["end_card_s"]
        # social outputs end with the branded card; the web page's do not
        assert (o["end_card_s"] > 0) == (o["platform"] != "web"), o["url"]
        if o["platform"] == "youtube":
            image_ok(o["cover"], (1280, 720))
            assert o["cover"]["bytes"] < 2_000_000
        elif o["aspect"] == "9:16" and o["platform"] in ("reels", "youtube_shorts"):
            image_ok(o["cover"], (1080, 1920))
        else:
            assert o["cover"] is None
    for cs in index["case_studies"]:
        aspects = {o["aspect"] for o in cs["outputs"]}
        assert {t["aspect"] for t in cs["thumbnails"]} == aspects, cs["id"]
        for t in cs["thumbnails"]:
            image_ok(t)
        image_ok(cs["contact_sheet"])

    # nothing half-written anywhere
    assert not list((sample_project / "out").rglob("*.partial"))

    # a second run with nothing changed renders nothing and rewrites the same index
    before = {p: p.stat().st_mtime_ns for p in (sample_project / "out").rglob("*.mp4")}
    stills_before = {p: p.stat().st_mtime_ns for p in out_dir.rglob("*.jpg")}
    assert main(["-q", "-m", manifests_dir, "render"]) == 0
    after = {p: p.stat().st_mtime_ns for p in (sample_project / "out").rglob("*.mp4")}
    assert before == after
    stills_after = {p: p.stat().st_mtime_ns for p in out_dir.rglob("*.jpg")}
    assert stills_before and stills_after == stills_before, "unchanged images were rewritten"
    again = json.loads((sample_project / "out" / "index.json").read_text())
    assert [cs["outputs"] for cs in again["case_studies"]] == [
        cs["outputs"] for cs in index["case_studies"]
    ]


@pytest.mark.render
def test_sample_campaign_publishes_to_s3(
    sample_project: Path,
    s3_endpoint: str,
    s3_bucket: str,
    fake_aws_credentials: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What `make render` does with S3 configured (here by environment only, as CI would):
    the sample campaign goes up, and every URL in the published index serves its bytes."""
    settings = {
        "PIPELINE_STORAGE": "s3",
        "PIPELINE_S3_BUCKET": s3_bucket,
        "PIPELINE_S3_PREFIX": "campaign",
        "PIPELINE_S3_ENDPOINT_URL": s3_endpoint,
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    assert main(["-q", "-m", str(sample_project / "manifests"), "render", "--publish"]) == 0
    with urllib.request.urlopen(f"{s3_endpoint}/{s3_bucket}/campaign/index.json") as r:
        published = json.load(r)
    jsonschema.validate(published, index_schema(), format_checker=jsonschema.FormatChecker())
    local = json.loads((sample_project / "out" / "index.json").read_text())
    rels = [h[n] for h, n in url_fields(local)]
    urls = [h[n] for h, n in url_fields(published)]
    assert len(rels) == len(urls) > 50
    for rel, url in zip(rels, urls, strict=True):
        assert url.startswith(f"{s3_endpoint}/{s3_bucket}/campaign/")
        with urllib.request.urlopen(url) as r:
            served = hashlib.sha256(r.read()).hexdigest()
        assert served == hashlib.sha256((sample_project / "out" / rel).read_bytes()).hexdigest()


def test_plan_command_prints_jobs(sample_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-m", str(sample_project / "manifests"), "plan", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "avon-somerset-youth/short" in out
    assert "-filter_complex" in out and "libx264" in out
    assert main(["-m", str(sample_project / "manifests"), "plan", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert len(plan["jobs"]) == 6
