"""Incremental renders (issue 9): each output's key explained by its inputs, a second render
that does nothing and reads nothing, and ``render --changed-since REF``.

Everything is tiny: one 1.5 s 160x90 clip, one output per case study, rendered at test
sizes through the library (``small_plan``) or at the profile's 720x720 through the CLI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

import pipeline.build as build
import pipeline.probe as probe_mod
import pipeline.render as render_mod
import pipeline.verify as verify_mod
from pipeline.build import plan_campaign, render_campaign
from pipeline.changes import ChangesError, changed_case_studies, shared_files
from pipeline.cli import main
from pipeline.profiles import PROFILES
from pipeline.render import FAILED, KEPT, RENDERED, UP_TO_DATE, Lock
from tests.clips import make_clip
from tests.render_checks import small_plan

PATH = "study/main/x-720x720.mp4"  # resized to SMALL by ``small_plan``, named by the profile's size

# 0.4 s on screen: one caption lint warning, for --strict-captions
CAPTIONS = """\
WEBVTT

00:00.000 --> 00:00.400
Hello there

00:00.500 --> 00:01.400
Second line
"""


def _study(case_id: str, source: str, *, crf: int | None = None, captions: bool = True) -> str:
    lines = [
        f"id: {case_id}",
        f"title: Study {case_id}",
        "area: Test area",
        f"source: {source}",
        "cuts:",
        "  main: [[0, 1.2]]",
        "outputs:",
        '  - {platform: x, cut: main, aspects: ["1:1"]}',
    ]
    if captions:
        lines.append(f"captions: {{en: captions/{case_id}.en.vtt}}")
    if crf is not None:
        lines.append(f"defaults: {{encoder: {{crf: {crf}}}}}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two clips of the same shape and length with different pictures."""
    folder = tmp_path_factory.mktemp("clips")
    a = make_clip(folder / "a.mp4", size=(160, 90), duration=1.5)
    b = make_clip(folder / "b.mp4", size=(160, 90), duration=1.5, extra_vf="negate")
    return a, b


# the test campaign (tests/conftest.py: superfast, no end card), without stills
CAMPAIGN = """\
name: Test campaign
hashtag: "#PCCsPreventingCrime"
defaults:
  encoder: {preset: superfast, crf: 30}
  end_card: false
stills: {enabled: false}
"""


def _project(project: Callable[..., Path], clip: Path, ids: tuple[str, ...] = ("study",)) -> Path:
    root = project({f"{i}.yaml": _study(i, f"../media/{i}.mp4") for i in ids}, CAMPAIGN)
    (root / "manifests" / "captions").mkdir()
    for i in ids:
        shutil.copyfile(clip, root / "media" / f"{i}.mp4")
        (root / "manifests" / "captions" / f"{i}.en.vtt").write_text(CAPTIONS)
    return root


def _render(root: Path, **kwargs: object) -> build.Report:
    manifests, plan = plan_campaign(root / "manifests", analyse=False)
    return render_campaign(manifests, small_plan(plan), **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# Why a job runs
# ---------------------------------------------------------------------------------------


def test_each_change_is_named_by_what_changed(project, clips, monkeypatch):
    root = _project(project, clips[0])
    report = _render(root)
    assert [(r.status, r.reason) for r in report.results] == [(RENDERED, "output missing")]
    out_dir = root / "out"
    manifest = root / "manifests" / "study.yaml"
    captions = root / "manifests" / "captions" / "study.en.vtt"
    media = root / "media" / "study.mp4"

    def why() -> str | None:
        _, plan = plan_campaign(root / "manifests", analyse=False)
        ((out,),) = [j.outputs for j in small_plan(plan).jobs]
        return Lock(out_dir).why_stale(out, out_dir)

    assert why() is None
    entry = Lock(out_dir).entries[PATH]
    assert set(entry["key_parts"]) == {
        "source",
        "captions",
        "manifest",
        "profile",
        "brand",
        "tools",
    }

    def changed(path: Path, text: str | bytes) -> str | None:
        """Why, with ``path`` holding ``text``; then ``path`` as it was (a new mtime)."""
        before = path.read_bytes()
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        try:
            return why()
        finally:
            path.write_bytes(before)

    assert changed(media, clips[1].read_bytes()) == "source changed"
    assert why() is None, "the same bytes back (with a new mtime) are up to date"
    assert changed(captions, CAPTIONS.replace("Hello there", "Hello you")) == "captions changed"
    # the second cue is clipped by the cut to under the readable minimum and dropped: no
    # byte of the output depends on it, so its text is not a reason to render
    assert changed(captions, CAPTIONS.replace("Second line", "Another line")) is None
    assert changed(manifest, _study("study", "../media/study.mp4", crf=35)) == "manifest changed"
    with monkeypatch.context() as m:
        m.setitem(PROFILES, "x", replace(PROFILES["x"], loudness_lufs=-18.0))
        assert why() == "profile changed"
    with monkeypatch.context() as m:
        # a limit verify checks but no byte depends on: same key, so nothing to do
        m.setitem(PROFILES, "x", replace(PROFILES["x"], max_bytes=PROFILES["x"].max_bytes - 1))
        assert why() is None
    with monkeypatch.context() as m:
        m.setattr(build, "__version__", "99.0.0")
        assert why() == "pipeline or FFmpeg version changed"
    with monkeypatch.context() as m:
        m.setitem(PROFILES, "x", replace(PROFILES["x"], loudness_lufs=-18.0))
        assert changed(captions, CAPTIONS.replace("Hello", "Hi")) == (
            "captions changed, profile changed"
        )

    # the file itself
    video = out_dir / "study/main/x-720x720.mp4"
    video.touch()  # a new mtime, the same bytes: checked by checksum, still current
    assert why() is None
    with video.open("ab") as fh:
        fh.write(b"\0")
    assert why() == "output file changed on disk"
    video.unlink()
    assert why() == "output missing"


def test_an_older_lock_and_missing_pieces(project, clips):
    root = _project(project, clips[0])
    _render(root)
    out_dir = root / "out"
    lock_file = out_dir / render_mod.STATE_DIR / render_mod.LOCK_FILE
    manifest = root / "manifests" / "study.yaml"
    original = manifest.read_text()

    def why() -> tuple[str | None, Lock]:
        _, plan = plan_campaign(root / "manifests", analyse=False)
        ((out,),) = [j.outputs for j in small_plan(plan).jobs]
        lock = Lock(out_dir)
        return lock.why_stale(out, out_dir), lock

    # a lock written before the parts were kept: a changed key cannot say which input
    entries = json.loads(lock_file.read_text())
    del entries[PATH]["key_parts"]
    lock_file.write_text(json.dumps(entries))
    manifest.write_text(_study("study", "../media/study.mp4", crf=35))
    assert why()[0] == "inputs or settings changed"
    manifest.write_text(original)
    reason, lock = why()
    assert reason is None and lock.dirty, "the current parts are recorded for next time"

    lock_file.unlink()
    assert why()[0] == "no record of how the existing file was made"
    (out_dir / "study/main/x-720x720.en.vtt").unlink()
    assert why()[0] == "caption file missing"


# ---------------------------------------------------------------------------------------
# Nothing changed: nothing runs, nothing is read
# ---------------------------------------------------------------------------------------


def _forbid(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make reading a source, hashing it, rendering or verifying fail the test."""

    def no(what: str) -> Callable[..., object]:
        def call(*args: object, **kwargs: object) -> object:
            raise AssertionError(f"a no-op run {what}")

        return call

    monkeypatch.setattr(probe_mod, "_probe", no("probed a source"))
    monkeypatch.setattr(probe_mod._HashCache, "sha256", no("hashed a source"))
    monkeypatch.setattr(render_mod, "render_cut", no("rendered"))
    monkeypatch.setattr(verify_mod, "verify_output", no("verified an unchanged file"))


def test_second_render_does_nothing_and_reads_nothing(project, clips, monkeypatch):
    root = _project(project, clips[0])
    first = _render(root)
    assert not first.failed, [r.reason for r in first.results]
    checks = first.checks[PATH]
    with monkeypatch.context() as m:
        _forbid(m)
        again = _render(root)
        assert [r.status for r in again.results] == [UP_TO_DATE]
        assert again.checks[PATH] == checks, "verify's findings kept"
        # --strict-captions applies to the kept findings: the 0.4 s cue fails the output
        strict = _render(root, strict_captions=True)
        (r,) = strict.results
        assert r.status == FAILED and "caption lint (--strict-captions)" in r.reason, r.reason
    forced = _render(root, force=True)
    assert [(r.status, r.reason) for r in forced.results] == [(RENDERED, "forced")]


def test_cli_says_why_then_nothing_to_do(project, clips, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    root = _project(project, clips[0])
    argv = ["-m", str(root / "manifests"), "render"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "study/main: rendering 1 output(s) (output missing)" in " ".join(err.split())
    assert "output missing" in out and "rendered" in out  # the summary's row
    with monkeypatch.context() as m:
        _forbid(m)
        assert main(argv) == 0
    out, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    index = os.path.relpath(root / "out" / "index.json")
    review = os.path.relpath(root / "out" / "review" / "index.html")
    assert len(lines) == 1 and lines[0] == (
        f"nothing to do: 1 output up to date; index: {index}; review: {review}; 2 caption "
        "lint warnings (-v lists them)"
    ), err
    assert out == "", "no summary table when nothing happened"
    assert main([*argv, "--force"]) == 0
    _, err = capsys.readouterr()
    assert "rendering 1 output(s) (forced)" in " ".join(err.split())


# ---------------------------------------------------------------------------------------
# --changed-since
# ---------------------------------------------------------------------------------------


def _git(root: Path, *args: str) -> str:
    proc = subprocess.run(
        [
            "git",
            "-C",
            str(root),
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.org",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout


@pytest.fixture
def repo(project, clips) -> Iterator[Path]:
    """Three case studies in a git repository: avon and clev with sources in the ignored media/
    folder, brum with its source committed under footage/; a brand logo; all committed."""
    root = _project(project, clips[0], ("avon", "clev"))
    (root / "footage").mkdir()
    shutil.copyfile(clips[0], root / "footage" / "brum.mp4")
    (root / "manifests" / "brum.yaml").write_text(
        _study("brum", "../footage/brum.mp4", captions=False)
    )
    (root / "manifests" / "brand").mkdir()
    logo = Path(__file__).parents[1] / "manifests" / "brand" / "logo.png"
    shutil.copyfile(logo, root / "manifests" / "brand" / "logo.png")
    campaign = root / "manifests" / "campaign.yaml"
    campaign.write_text(campaign.read_text() + "brand: {logo: brand/logo.png}\n")
    (root / ".gitignore").write_text("/out/\n/media/\n/.pipeline-cache/\n")
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "campaign")
    yield root


def _selected(
    root: Path, ref: str = "HEAD"
) -> tuple[frozenset[str] | None, dict[str, tuple[str, ...]]]:
    from pipeline.manifest_load import load_manifests

    sel = changed_case_studies(load_manifests(root / "manifests"), ref)
    return sel.case_ids, sel.reasons


def test_changed_since_maps_files_to_case_studies(repo):
    m = repo / "manifests"
    assert _selected(repo) == (frozenset(), {})
    (m / "avon.yaml").write_text((m / "avon.yaml").read_text().replace("Study avon", "Study Avon"))
    assert _selected(repo) == ({"avon"}, {"avon": ("manifest manifests/avon.yaml changed",)})
    _git(repo, "add", "-A")  # staged counts as well
    assert _selected(repo)[0] == {"avon"}
    _git(repo, "commit", "-q", "-m", "avon")
    assert _selected(repo) == (frozenset(), {})
    assert _selected(repo, "HEAD~1")[0] == {"avon"}, "committed since the ref"

    (m / "captions" / "clev.en.vtt").write_text(CAPTIONS.replace("Hello", "Hi"))
    with (repo / "footage" / "brum.mp4").open("ab") as fh:
        fh.write(b"\0")
    (m / "dorset.yaml").write_text(
        _study("dorset", "../footage/brum.mp4", captions=False)
    )  # untracked
    ids, reasons = _selected(repo)
    assert ids == {"brum", "clev", "dorset"}
    assert reasons["clev"] == ("en captions manifests/captions/clev.en.vtt changed",)
    assert reasons["brum"] == ("source footage/brum.mp4 changed",)
    assert reasons["dorset"] == (
        "manifest manifests/dorset.yaml changed",
        "source footage/brum.mp4 changed",
    )

    # a change to a source git ignores is not seen; the selection says so
    from pipeline.manifest_load import load_manifests

    sel = changed_case_studies(load_manifests(m), "HEAD")
    assert sel.untracked == ("avon", "clev")


@pytest.mark.parametrize("shared", ["manifests/campaign.yaml", "manifests/brand/logo.png"])
def test_changed_since_a_shared_file_selects_everything(repo, shared):
    with (repo / shared).open("ab") as fh:
        fh.write(b"\n")
    ids, _ = _selected(repo)
    assert ids is None


def test_profiles_are_a_shared_file(repo):
    from pipeline import profiles
    from pipeline.manifest_load import load_manifests

    files = shared_files(load_manifests(repo / "manifests"))
    assert files[Path(profiles.__file__).resolve()] == "platform profiles"


def test_changed_since_errors_name_the_problem(repo, tmp_path, capsys):
    with pytest.raises(ChangesError, match="unknown git ref 'no-such-branch'"):
        _selected(repo, "no-such-branch")
    assert main(["-m", str(repo / "manifests"), "render", "--changed-since", "nope~9"]) == 2
    assert "unknown git ref 'nope~9'" in " ".join(capsys.readouterr().err.split())
    plain = tmp_path / "plain"
    shutil.copytree(repo / "manifests", plain / "manifests")
    assert main(["-m", str(plain / "manifests"), "render", "--changed-since", "HEAD"]) == 2
    assert "needs a git repository" in " ".join(capsys.readouterr().err.split())


def test_render_changed_since_renders_exactly_the_changed(repo, clips, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    # two case studies: avon, its source ignored by git; brum, its source committed
    (repo / "manifests" / "clev.yaml").unlink()
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "two")
    argv = ["-m", str(repo / "manifests"), "render"]
    assert main(argv) == 0
    capsys.readouterr()
    out_dir = repo / "out"
    before = {p: e["mtime_ns"] for p, e in Lock(out_dir).entries.items()}
    assert set(before) == {"avon/main/x-720x720.mp4", "brum/main/x-720x720.mp4"}

    # brum: a manifest change git sees; avon: a source change it cannot (media/ is ignored)
    brum = repo / "manifests" / "brum.yaml"
    brum.write_text(_study("brum", "../footage/brum.mp4", crf=35, captions=False))
    shutil.copyfile(clips[1], repo / "media" / "avon.mp4")
    assert main([*argv, "--changed-since", "HEAD"]) == 0
    out, err = capsys.readouterr()
    said = " ".join(err.split())
    assert "changed since HEAD: 1 of 2 case studies" in said
    assert "brum: manifest manifests/brum.yaml changed" in said
    assert "not selected (left as they are): avon" in said
    assert "git does not track the source of avon" in said
    assert "brum/main: rendering 1 output(s) (manifest changed)" in said
    after = {p: e["mtime_ns"] for p, e in Lock(out_dir).entries.items()}
    assert after["brum/main/x-720x720.mp4"] != before["brum/main/x-720x720.mp4"]
    assert after["avon/main/x-720x720.mp4"] == before["avon/main/x-720x720.mp4"], (
        "avon was rendered"
    )
    # avon stays in the index as it was, stale, and the summary says why it would render
    index = json.loads((out_dir / "index.json").read_text())
    listed = {s["id"]: [o["url"] for o in s["outputs"]] for s in index["case_studies"]}
    assert listed == {"avon": ["avon/main/x-720x720.mp4"], "brum": ["brum/main/x-720x720.mp4"]}
    assert KEPT in out and "source changed" in out

    # without --changed-since, the content hash catches avon's source
    assert main(argv) == 0
    said = " ".join(capsys.readouterr().err.split())
    assert "avon/main: rendering 1 output(s) (source changed)" in said
