"""The browser harness itself (tests/browser.py): Chromium starts, a page loads and runs script,
its problems are recorded, and screenshots land in test-artifacts/."""

from __future__ import annotations

from pathlib import Path

from tests.browser import ARTIFACTS, BrowserPage

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Harness</title></head>
<body style="margin:0;background:#0a3d62;color:#fff;font:32px sans-serif">
<h1 id="h">Browser harness ✓</h1>
<script>document.getElementById('h').dataset.ready = String(6 * 7);</script>
</body></html>
"""


def test_page_loads_runs_script_and_screenshots(browser_page: BrowserPage, tmp_path: Path) -> None:
    page_file = tmp_path / "index.html"
    page_file.write_text(PAGE, encoding="utf-8")

    browser_page.goto(page_file.as_uri())

    assert browser_page.title() == "Harness"
    assert browser_page.page.evaluate("document.getElementById('h').dataset.ready") == "42"
    assert browser_page.evaluate("navigator.userAgent").find("HeadlessChrome") >= 0
    shot = browser_page.screenshot("browser-harness.png")
    assert shot.parent == ARTIFACTS
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert not browser_page.problems


def test_problems_are_recorded(browser_page: BrowserPage, tmp_path: Path) -> None:
    page_file = tmp_path / "broken.html"
    page_file.write_text(
        '<!doctype html><img src="missing.png">'
        "<script>console.error('logged'); setTimeout(() => { throw new Error('boom'); });</script>",
        encoding="utf-8",
    )

    browser_page.goto(page_file.as_uri())
    browser_page.wait_for_timeout(100)

    assert any("logged" in m for m in browser_page.console_errors)
    assert any("boom" in m for m in browser_page.page_errors)
    assert any("missing.png" in m for m in browser_page.failed_requests)
    assert len(browser_page.problems) >= 3
