"""The sample campaign in manifests/ must always validate, plan and render: a test that
loads every file there, so the examples never rot."""

from __future__ import annotations

import hashlib
import json
import shutil
import urllib.request
from pathlib import Path
from typing import Any

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
    browser_page: Any,
) -> None:
    """What `make render` does with S3 configured (here by environment only, as CI would):
    the sample campaign goes up, every URL in the published index serves its bytes, and the
    review site served from the bucket plays in Chromium."""
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
    review_url = f"{s3_endpoint}/{s3_bucket}/campaign/review/index.html"
    counted = _check_review_site(browser_page, review_url, sample_project / "out", "review-s3")
    assert counted["videos"] == len(listed_outputs(local))


def listed_outputs(index: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for cs in index["case_studies"] for o in cs["outputs"]]


def test_plan_command_prints_jobs(sample_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-m", str(sample_project / "manifests"), "plan", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "avon-somerset-youth/short" in out
    assert "-filter_complex" in out and "libx264" in out
    assert main(["-m", str(sample_project / "manifests"), "plan", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert len(plan["jobs"]) == 6


# ---------------------------------------------------------------------------------------
# The review site, in a real headless Chromium (tests/browser.py)
# ---------------------------------------------------------------------------------------

# Everything on one page the test checks, measured by the browser itself: each video's
# metadata, each caption track's cues, each image; waits for each to load or fail.
PAGE_FACTS = """async () => {
  const settle = (el, ready, events) => new Promise(resolve => {
    if (ready()) return resolve();
    events.forEach(e => el.addEventListener(e, () => resolve(), {once: true}));
    setTimeout(resolve, 30000);
  });
  const videos = [...document.querySelectorAll('video')];
  await Promise.all(videos.map(v => settle(v, () => v.readyState >= 1 || v.error,
                                           ['loadedmetadata', 'error'])));
  const tracks = [...document.querySelectorAll('track')];
  await Promise.all(tracks.map(t => settle(t, () => t.readyState >= 2, ['load', 'error'])));
  const imgs = [...document.querySelectorAll('img')];
  await Promise.all(imgs.map(i => settle(i, () => i.complete, ['load', 'error'])));
  return {
    videos: videos.map(v => ({
      output: v.closest('article').dataset.output,
      badge: v.closest('article').dataset.badge,
      duration: v.duration, width: v.videoWidth, height: v.videoHeight,
      error: v.error ? v.error.code : null, label: v.getAttribute('aria-label'),
      tracks: [...v.querySelectorAll('track')].map(t => ({
        lang: t.srclang, label: t.label, state: t.readyState, mode: t.track.mode,
        cues: t.track.cues ? t.track.cues.length : -1,
        line: t.track.cues && t.track.cues.length ? t.track.cues[0].line : null,
      })),
    })),
    images: imgs.map(i => ({src: i.currentSrc, ok: i.complete && i.naturalWidth > 0,
                            alt: i.alt})),
    rows: [...document.querySelectorAll('tr[data-case]')].map(r => [r.dataset.case,
                                                                   r.dataset.badge]),
    links: [...document.querySelectorAll('tr[data-case] a')].map(a => a.href),
  };
}"""


# Each player to the middle of its first caption cue, so a screenshot shows captions on.
SHOW_FIRST_CUE = """async () => {
  await Promise.all([...document.querySelectorAll('video')].map(v => new Promise(resolve => {
    const cues = v.textTracks.length ? v.textTracks[0].cues : null;
    if (!cues || !cues.length) return resolve();
    v.addEventListener('seeked', () => resolve(), {once: true});
    setTimeout(resolve, 10000);
    v.currentTime = (cues[0].startTime + cues[0].endTime) / 2;
  })));
}"""


def _expected_badge(out: dict[str, Any]) -> str:
    if (out.get("checks") or {}).get("failures"):
        return "fail"
    return "warn" if out["caption_lint"]["warnings"] else "pass"


def _cue_count(path: Path) -> int:
    import webvtt

    return len(webvtt.read(str(path)))


def _check_review_site(
    browser_page: Any, overview_url: str, out_dir: Path, shots: str
) -> dict[str, int]:
    """Open the overview and every case study's page; check every player, caption track,
    image and badge against index.json and the files. Returns counts for the caller."""
    index = json.loads((out_dir / "index.json").read_text())
    cases = {cs["id"]: cs for cs in index["case_studies"]}
    browser_page.goto(overview_url)
    overview = browser_page.evaluate(PAGE_FACTS)
    browser_page.screenshot(f"{shots}-overview.png")
    assert dict(overview["rows"]) == {
        cid: "fail"
        if cs["errors"]
        else max((_expected_badge(o) for o in cs["outputs"]), key=["pass", "warn", "fail"].index)
        for cid, cs in cases.items()
    }
    assert all(img["ok"] for img in overview["images"]), overview["images"]
    counted = {"videos": 0, "tracks": 0, "cues": 0, "images": len(overview["images"])}
    for link in overview["links"]:
        browser_page.goto(link)
        facts = browser_page.evaluate(PAGE_FACTS)
        cid = link.rsplit("/", 1)[-1].split("?")[0].removesuffix(".html")
        browser_page.evaluate(SHOW_FIRST_CUE)  # the screenshot shows the captions on
        browser_page.screenshot(f"{shots}-{cid}.png")
        outputs = {o["url"]: o for o in cases[cid]["outputs"]}
        assert sorted(v["output"] for v in facts["videos"]) == sorted(outputs), cid
        for v in facts["videos"]:
            o = outputs[v["output"]]
            assert v["error"] is None, v
            assert abs(v["duration"] - o["duration_s"]) < 0.05, v
            assert (v["width"], v["height"]) == (o["width"], o["height"]), v
            assert v["badge"] == _expected_badge(o), v
            assert v["label"] and cases[cid]["title"] in v["label"]
            vtts = {c["lang"]: c["url"] for c in o["captions"] if c["format"] == "vtt"}
            assert [t["lang"] for t in v["tracks"]] == list(vtts), v
            for n, t in enumerate(v["tracks"]):
                assert t["state"] == 2, f"{v['output']} {t['lang']} track did not load: {t}"
                assert t["cues"] == _cue_count(out_dir / vtts[t["lang"]]) > 0, t
                assert t["mode"] == ("showing" if n == 0 else "hidden"), t  # captions on
                # over burned-in captions (at the bottom) the track's show at the top
                assert (t["line"] == 0) == o["burned_captions"], (v["output"], t)
                assert t["label"]
                counted["tracks"] += 1
                counted["cues"] += t["cues"]
            counted["videos"] += 1
        bad = [i for i in facts["images"] if not i["ok"] or not i["alt"]]
        assert not bad and facts["images"], bad
        counted["images"] += len(facts["images"])
    assert len(overview["links"]) == len(cases)
    assert not browser_page.problems, browser_page.problems
    return counted


@pytest.mark.render
def test_review_site_opened_from_disk_shows_the_whole_campaign(
    sample_project: Path, browser_page: Any
) -> None:
    out_dir = sample_project / "out"
    counted = _check_review_site(
        browser_page, (out_dir / "review" / "index.html").as_uri(), out_dir, "review-disk"
    )
    index = json.loads((out_dir / "index.json").read_text())
    assert counted["videos"] == sum(len(cs["outputs"]) for cs in index["case_studies"])


@pytest.mark.render
def test_review_site_is_keyboard_navigable(sample_project: Path, browser_page: Any) -> None:
    """From the top of a case study's page, Tab alone reaches the skip link first, then every
    player and every checks-and-notes disclosure."""
    page_path = sample_project / "out" / "review" / "avon-somerset-youth.html"
    browser_page.goto(page_path.as_uri())
    reached: list[str] = []
    for _ in range(300):
        browser_page.keyboard.press("Tab")
        here = browser_page.evaluate(
            "() => { const e = document.activeElement;"
            " return e.id || e.tagName + ':' + (e.textContent || '').trim().slice(0, 30); }"
        )
        reached.append(here)
    assert reached[0] == "A:Skip to content"
    videos = browser_page.evaluate("() => [...document.querySelectorAll('video')].map(v => v.id)")
    assert videos and set(videos) <= set(reached), (videos, reached[:40])
    summaries = [r for r in reached if r.startswith("SUMMARY:Checks and notes")]
    assert len(set(summaries)) >= 1


@pytest.mark.render
def test_review_serve_serves_the_site_to_the_browser(
    sample_project: Path, browser_page: Any
) -> None:
    import threading

    from pipeline.review_server import server

    out_dir = sample_project / "out"
    srv = server(out_dir, 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{srv.server_address[1]}"
        counted = _check_review_site(
            browser_page, f"{base}/review/index.html", out_dir, "review-http"
        )
        assert counted["videos"] > 0
        # a served player can seek (the server answers byte ranges)
        seekable = browser_page.evaluate(
            "() => { const v = document.querySelector('video');"
            " return v.seekable.length ? v.seekable.end(0) : 0; }"
        )
        assert seekable > 1.0
    finally:
        srv.shutdown()
        srv.server_close()
