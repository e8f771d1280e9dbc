"""The review site's pages (pipeline.review) and its local server (pipeline.review_server),
without a browser or a render: pages from a hand-made index. tests/test_sample_campaign.py
drives the real site in headless Chromium."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from pipeline import review
from pipeline.cli import main
from pipeline.review_server import server


def _output(**over: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "platform": "x",
        "cut": "short",
        "aspect": "16:9",
        "width": 1280,
        "height": 720,
        "fps": 30.0,
        "duration_s": 12.5,
        "bytes": 2_500_000,
        "sha256": "0" * 64,
        "url": "case-a/short/x-1280x720.mp4",
        "content_type": "video/mp4",
        "notes": [],
        "captions": [
            {"lang": "en", "format": "srt", "url": "case-a/short/x-1280x720.en_GB.srt"},
            {"lang": "en", "format": "vtt", "url": "case-a/short/x-1280x720.en.vtt"},
            {"lang": "cy", "format": "vtt", "url": "case-a/short/x-1280x720.cy.vtt"},
        ],
        "burned_captions": True,
        "caption_lint": {"warnings": []},
        "end_card_s": 3.0,
        "poster": {
            "url": "case-a/short/x-1280x720-poster.jpg",
            "width": 1280,
            "height": 720,
            "bytes": 1000,
            "webp_url": "case-a/short/x-1280x720-poster.webp",
            "time_s": 2.0,
        },
        "cover": None,
        "checks": {"passed": True, "failures": [], "notes": [], "loudness_lufs": -16.0,
                   "true_peak_dbtp": -2.0, "normalization": "linear"},
    }  # fmt: skip
    out.update(over)
    return out


def _index() -> dict[str, Any]:
    lint = {"warnings": ["en: 00:00:01.000 (line 2): reading speed 300 wpm"]}
    return {
        "campaign": "Test <campaign>",
        "hashtag": "#PCCsPreventingCrime",
        "generated_at": "2026-11-27T00:00:00Z",
        "pipeline_version": "0.2.0",
        "case_studies": [
            {
                "id": "case-a",
                "title": "Lights & <script>alert(1)</script>",
                "area": "Area A",
                "description": "What it is.",
                "status": "ok",
                "errors": [],
                "outputs": [
                    _output(),
                    _output(
                        aspect="9:16",
                        width=1080,
                        height=1920,
                        caption_lint=lint,
                        url="case-a/short/x-1080x1920.mp4",
                    ),
                ],
                "thumbnails": [
                    {
                        "aspect": "16:9",
                        "url": "case-a/thumbnails/16x9-1.jpg",
                        "width": 854,
                        "height": 480,
                        "bytes": 10,
                        "time_s": 3.0,
                    },
                ],
                "contact_sheet": {
                    "url": "case-a/thumbnails/contact-sheet.jpg",
                    "width": 1354,
                    "height": 900,
                    "bytes": 10,
                },
            },
            {
                "id": "case-b",
                "title": "Broken",
                "area": "Area B",
                "description": "",
                "status": "failed",
                "errors": ["case-b/full/web-1920x1080.mp4: H.264 level: 5.2 (rule: <= 4.2)"],
                "outputs": [],
                "thumbnails": [],
                "contact_sheet": None,
            },
        ],
    }


class _Page(HTMLParser):
    """What the tests look at: elements with their attributes, and the text."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag]

    def with_attr(self, name: str) -> list[tuple[str, dict[str, str | None]]]:
        return [(t, a) for t, a in self.tags if name in a]


def test_badges_follow_verify_and_the_caption_lint() -> None:
    index = _index()
    a, b = index["case_studies"]
    assert review.output_badge(a["outputs"][0]) == review.PASS
    assert review.output_badge(a["outputs"][1]) == review.WARN
    failed = _output(checks={"passed": False, "failures": ["duration: 200 s (rule: <= 140)"]})
    assert review.output_badge(failed) == review.FAIL
    assert review.case_badge(a) == review.WARN
    assert review.case_badge(b) == review.FAIL
    a["outputs"].pop()
    assert review.case_badge(a) == review.PASS


def test_overview_lists_every_case_study_with_its_status() -> None:
    site = review.pages(_index(), review.local_url)
    assert set(site) == {"index.html", "case-a.html", "case-b.html"}
    page = _Page(site["index.html"])
    rows = {a["data-case"]: a["data-badge"] for t, a in page.with_attr("data-case")}
    assert rows == {"case-a": "warn", "case-b": "fail"}
    links = [a["href"] for a in page.all("a")]
    assert "case-a.html" in links and "case-b.html" in links
    assert "2 case studies; outputs: 1 passed, 1 with warnings, 1 failed." in "".join(page.text)


def test_case_page_has_a_player_per_output_with_poster_and_captions_on() -> None:
    page = _Page(review.pages(_index(), review.local_url)["case-a.html"])
    videos = page.all("video")
    assert len(videos) == 2
    first = videos[0]
    assert first["poster"] == "../case-a/short/x-1280x720-poster.jpg"
    assert first["preload"] == "metadata" and "controls" in first
    assert first["aria-label"] == "Lights & <script>alert(1)</script>: x · short cut · 16:9"
    assert next(s["src"] for s in page.all("source")) == "../case-a/short/x-1280x720.mp4"
    tracks = page.all("track")
    assert len(tracks) == 4  # the two WebVTT files per output; SubRip is a download link
    assert tracks[0]["src"] == "../case-a/short/x-1280x720.en.vtt"
    assert tracks[0]["kind"] == "captions" and "default" in tracks[0]
    assert tracks[1]["srclang"] == "cy" and "default" not in tracks[1]
    badges = [a["data-badge"] for t, a in page.with_attr("data-output")]
    assert badges == ["pass", "warn"]
    imgs = page.all("img")
    assert imgs and all(a.get("alt") for a in imgs)
    text = "".join(page.text)
    for fact in ("1280×720, 30.0 fps", "0:12.500", "2.5 MB", "-16.0 LUFS", "reading speed 300"):
        assert fact in text, fact
    # no external resource: everything is relative to the output folder
    refs = [v for _, a in page.tags for k, v in a.items() if k in ("src", "href", "poster")]
    assert refs and all(v and "://" not in v and not v.startswith("/") for v in refs), refs


def test_text_from_the_manifest_is_escaped() -> None:
    site = review.pages(_index(), review.local_url)
    for text in site.values():
        assert "<script>alert" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in site["case-a.html"]
    assert "Test &lt;campaign&gt;" in site["index.html"]


def test_failed_outputs_are_listed_with_a_failed_badge() -> None:
    page = _Page(review.pages(_index(), review.local_url)["case-b.html"])
    failed = [a for t, a in page.with_attr("data-badge") if t == "li"]
    assert len(failed) == 1 and failed[0]["data-badge"] == "fail"
    assert "H.264 level: 5.2" in "".join(page.text)


def test_relative_urls_reach_content_keys_from_the_page_key() -> None:
    url_for = review.relative_url("campaign/review/index.html")
    assert url_for("campaign/case-a/short/x.0123456789abcdef.mp4") == (
        "../case-a/short/x.0123456789abcdef.mp4"
    )
    assert review.relative_url("review/index.html")("a b/c#d.jpg") == "../a%20b/c%23d.jpg"
    assert review.local_url("a b/c.mp4") == "../a%20b/c.mp4"


def test_write_replaces_pages_whole_and_drops_pages_of_removed_case_studies(
    tmp_path: Path,
) -> None:
    index = _index()
    overview = review.write(index, tmp_path)
    assert overview == tmp_path / "review" / "index.html"
    assert (tmp_path / "review" / "case-b.html").is_file()
    index["case_studies"].pop()
    review.write(index, tmp_path)
    assert sorted(p.name for p in (tmp_path / "review").iterdir()) == [
        "case-a.html",
        "index.html",
    ]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, bytes]]:
    body = bytes(range(256)) * 40  # 10240 bytes
    (tmp_path / "clip.mp4").write_bytes(body)
    (tmp_path / "clip.en.vtt").write_text("WEBVTT\n")
    srv = server(tmp_path, 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}", body
    finally:
        srv.shutdown()
        srv.server_close()


def _get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def test_server_answers_byte_ranges_as_players_ask(served: tuple[str, bytes]) -> None:
    base, body = served
    status, headers, data = _get(f"{base}/clip.mp4")
    assert status == 200 and data == body and headers["accept-ranges"] == "bytes"
    assert headers["content-type"] == "video/mp4"
    status, headers, data = _get(f"{base}/clip.mp4", Range="bytes=100-199")
    assert status == 206 and data == body[100:200]
    assert headers["content-range"] == f"bytes 100-199/{len(body)}"
    status, _, data = _get(f"{base}/clip.mp4", Range="bytes=10000-")
    assert status == 206 and data == body[10000:]
    status, _, data = _get(f"{base}/clip.mp4", Range="bytes=-40")
    assert status == 206 and data == body[-40:]
    status, headers, _ = _get(f"{base}/clip.mp4", Range="bytes=20000-")
    assert status == 416 and headers["content-range"] == f"bytes */{len(body)}"
    status, headers, _ = _get(f"{base}/clip.en.vtt")
    assert status == 200 and headers["content-type"].startswith("text/vtt")


def test_review_command_writes_the_pages_and_says_where(
    project: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(
        {
            "case-a.yaml": """\
            id: case-a
            title: A
            area: Area A
            source: ../media/a.mp4
            cuts: {main: [[0, 5]]}
            outputs: [{platform: web, cut: main, aspects: ["16:9"]}]
            """
        }
    )
    args = ["-m", str(root / "manifests"), "review"]
    assert main(args) == 2
    assert "no index.json in" in capsys.readouterr().err
    (root / "out").mkdir()
    (root / "out" / "index.json").write_text(json.dumps(_index()))
    assert main(args) == 0
    assert "review/index.html" in capsys.readouterr().err
    assert (root / "out" / "review" / "case-a.html").is_file()
