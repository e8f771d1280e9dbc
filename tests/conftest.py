from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.clips import SHARED_MEDIA

# Real S3 for the storage tests: moto's server (s3_endpoint, s3_bucket, fake_aws_credentials)
# and a fault-injecting proxy in front of it (fault_proxy); headless Chromium for the review
# pages (chromium_browser, browser_page).
pytest_plugins = ["tests.s3server", "tests.faultproxy", "tests.browser"]

CAMPAIGN = """\
name: Test campaign
hashtag: "#PCCsPreventingCrime"
defaults:
  encoder: {preset: superfast, crf: 30}
  end_card: false   # tests of the cut itself; tests/test_endcard.py covers the card
"""


@pytest.fixture
def project(tmp_path: Path) -> Callable[..., Path]:
    """Make a project folder: ``manifests/campaign.yaml`` plus the given case-study files.

    Returns the project root; sources go in ``root / 'media'``.
    """

    def make(studies: dict[str, str], campaign: str = CAMPAIGN) -> Path:
        root = tmp_path / "proj"
        (root / "manifests").mkdir(parents=True, exist_ok=True)
        (root / "media").mkdir(exist_ok=True)
        (root / "manifests" / "campaign.yaml").write_text(textwrap.dedent(campaign))
        for name, text in studies.items():
            (root / "manifests" / name).write_text(textwrap.dedent(text))
        return root

    return make


@pytest.fixture(scope="session")
def shared_media() -> Path | None:
    """The real clips in ../shared/media when present (tests fall back to generated clips)."""
    return SHARED_MEDIA if (SHARED_MEDIA / "video").is_dir() else None
