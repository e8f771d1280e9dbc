"""Headless Chromium for browser tests: Debian's ``chromium`` driven by Playwright.

Playwright runs the system browser (``executable_path``), so nothing is downloaded:
``playwright install`` is never run. ``make test`` installs Debian's ``chromium`` first
(``make browser``); elsewhere, set ``PIPELINE_CHROMIUM`` to a Chromium or Chrome binary.

Fixtures (registered for the whole suite by ``tests/conftest.py``):

- ``chromium_browser`` (session): a launched headless :class:`playwright.sync_api.Browser`.
- ``browser_page`` (function): a :class:`BrowserPage`, a fresh page in its own context that
  records console errors, uncaught page errors, failed requests and HTTP error responses;
  ``assert not browser_page.problems`` checks them all. Closed after the test, and when the
  test fails its last state is saved to ``ARTIFACTS/<test>-failure.png``.

Measured with Chromium 156 (Debian 12) and Playwright 1.65: H.264 High + AAC MP4 plays
(Debian's build has the proprietary codecs), from ``file://`` and over HTTP. A ``file://`` page
cannot load a ``<track>`` from a ``file://`` URL, not even from its own folder ("'file:' URLs
are treated as unique security origins"); video, audio and images load, and ``data:`` or
``blob:`` tracks work. ``--allow-file-access-from-files`` lifts that, and hides what a
reviewer who opens the page from disk would see, so it is not passed. Python's
``http.server`` has no Range support: the video plays, but cannot seek (``seekable`` is
``[0, 0]``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    Response,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

ROOT = Path(__file__).resolve().parent.parent
# Screenshots and other files a person looks at after a run (git-ignored); see artifact().
ARTIFACTS = ROOT / "test-artifacts"

ENV_VAR = "PIPELINE_CHROMIUM"
# This machine's network refuses Chromium's own background connections (component updates,
# sync, QUIC probes); these keep the browser from trying.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
TIMEOUT_MS = 15_000  # per Playwright action; its default of 30 s is long for a local page

_FAILED = pytest.StashKey[bool]()


def artifact(name: str) -> Path:
    """Path for a file called ``name`` in ``ARTIFACTS``, creating the folder."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


def find_chromium() -> str:
    """``$PIPELINE_CHROMIUM``, else ``chromium`` or ``chromium-browser`` on PATH; fails the test
    with what to do when there is none."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        found = shutil.which(configured)
        if found is None:
            pytest.fail(
                f"{ENV_VAR}={configured} is not an executable file: set it to a Chromium or "
                "Chrome binary, or unset it to use `chromium` on PATH",
                pytrace=False,
            )
        return found
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail(
            "the browser tests need Chromium, and none is on PATH: run `make test` (its "
            "`browser` step installs it) or `apt-get install chromium`, or set "
            f"{ENV_VAR} to a Chromium or Chrome binary",
            pytrace=False,
        )
    return found


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Browser]:
    executable = find_chromium()
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=executable, headless=True, args=CHROMIUM_ARGS
            )
        except PlaywrightError as error:
            pytest.fail(f"could not start {executable} through Playwright: {error}", pytrace=False)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class BrowserPage:
    """A fresh page and what went wrong on it.

    Attributes other than these are the page's own (``browser_page.goto(url)`` is
    ``browser_page.page.goto(url)``).
    """

    page: Page
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)  # uncaught exceptions
    failed_requests: list[str] = field(default_factory=list)  # network-level failures
    http_errors: list[str] = field(default_factory=list)  # responses with status >= 400
    # Not problems: a media request Chromium cancels itself (net::ERR_ABORTED: it does so for
    # file:// media once it has what preload asks for) and the automatic /favicon.ico request.
    ignored: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return [
            *(f"console error: {m}" for m in self.console_errors),
            *(f"page error: {m}" for m in self.page_errors),
            *(f"request failed: {m}" for m in self.failed_requests),
            *(f"HTTP error: {m}" for m in self.http_errors),
        ]

    def screenshot(self, name: str, *, full_page: bool = True) -> Path:
        """Save a PNG of the page as ``ARTIFACTS/name`` and return its path."""
        path = artifact(name)
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def __getattr__(self, name: str) -> Any:
        return getattr(self.page, name)

    # Listeners

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        where = message.location.get("url", "")
        text = f"{message.text} ({where})" if where else message.text
        if _is_favicon(where):
            self.ignored.append(text)
        else:
            self.console_errors.append(text)

    def _page_error(self, error: PlaywrightError) -> None:
        self.page_errors.append(f"{error.name}: {error.message}" if error.name else error.message)

    def _request_failed(self, request: Request) -> None:
        text = f"{request.url}: {request.failure}"
        aborted_media = request.resource_type == "media" and request.failure == "net::ERR_ABORTED"
        if aborted_media or _is_favicon(request.url):
            self.ignored.append(text)
        else:
            self.failed_requests.append(text)

    def _response(self, response: Response) -> None:
        if response.status < 400:
            return
        text = f"{response.status} {response.url}"
        if _is_favicon(response.url):
            self.ignored.append(text)
        else:
            self.http_errors.append(text)


def _is_favicon(url: str) -> bool:
    return url.split("?", 1)[0].endswith("/favicon.ico")


@pytest.fixture
def browser_page(
    chromium_browser: Browser, request: pytest.FixtureRequest
) -> Iterator[BrowserPage]:
    context = chromium_browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    tab = BrowserPage(context.new_page())
    tab.page.on("console", tab._console)
    tab.page.on("pageerror", tab._page_error)
    tab.page.on("requestfailed", tab._request_failed)
    tab.page.on("response", tab._response)
    try:
        yield tab
        if request.node.stash.get(_FAILED, False):
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid).strip("_")
            with contextlib.suppress(PlaywrightError):  # the page may be what broke
                tab.screenshot(f"{name}-failure.png")
    finally:
        context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_FAILED] = True
    return report
