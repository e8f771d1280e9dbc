"""The review site: static HTML pages for sign-off, made from ``index.json``.

One overview page (``review/index.html``: every case study with its status at a glance)
and one page per case study (``review/<id>.html``): for every output a player with its
poster and WebVTT caption tracks (on by default), its platform, aspect ratio, duration, size,
loudness and a pass / warnings / failed badge from verify and the caption lint; then the
case study's thumbnails and contact sheet.

The pages are plain files with their CSS and JavaScript inline and every link relative, so
they work opened from disk and served from any folder or bucket. ``url_for`` decides each
file's link: ``../<path>`` in the output folder; in storage, the relative path to the
file's content-addressed key (``pipeline.publish``).
"""

from __future__ import annotations

import base64
import contextlib
import os
import posixpath
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

REVIEW_DIR = "review"
OVERVIEW = "index.html"

PASS, WARN, FAIL = "pass", "warn", "fail"
BADGE_TEXT = {PASS: "Passed", WARN: "Warnings", FAIL: "Failed"}

# Language names for the caption menu; a code not listed is shown as it is.
LANGUAGES = {"en": "English", "cy": "Cymraeg (Welsh)", "fr": "Français", "pl": "Polski"}

UrlFor = Callable[[str], str]


def output_badge(out: dict[str, Any]) -> str:
    """An output's badge: failed when verify failed it, warnings when its captions have
    lint warnings or verify noted a problem, else passed."""
    checks = out.get("checks") or {}
    if checks.get("failures") or checks.get("passed") is False:
        return FAIL
    if (out.get("caption_lint") or {}).get("warnings"):
        return WARN
    return PASS


def case_badge(case: dict[str, Any]) -> str:
    """A case study's badge: failed when it has errors (an output or the whole case study
    could not be made or failed verify), else the worst of its outputs'."""
    if case.get("errors") or case.get("status") in ("failed", "partial"):
        return FAIL
    badges = {output_badge(o) for o in case.get("outputs", [])}
    return FAIL if FAIL in badges else WARN if WARN in badges else PASS


# What a page shows for a field an index lacks (an index from an older pipeline version).
_CASE = {"title": "", "area": "", "description": "", "status": "ok", "errors": [], "outputs": []}
_OUTPUT = {
    "platform": "?", "cut": "?", "aspect": "?", "width": 0, "height": 0, "fps": 0,
    "duration_s": 0.0, "bytes": 0, "captions": [], "notes": [],
}  # fmt: skip


def pages(
    index: dict[str, Any], url_for: UrlFor, track_for: UrlFor | None = None
) -> dict[str, str]:
    """Every page of the site: file name (in the review folder) -> HTML. ``track_for``
    gives a caption track's ``src`` (default: ``url_for``)."""
    cases = [
        {
            **_CASE,
            "title": c["id"],
            **c,
            "outputs": [{**_OUTPUT, **o} for o in c.get("outputs", [])],
        }
        for c in index.get("case_studies", [])
    ]
    index = {**index, "case_studies": cases}
    site = {OVERVIEW: _overview(index, url_for)}
    for case in cases:
        site[page_name(case["id"])] = _case_page(index, case, url_for, track_for or url_for)
    return site


def page_name(case_id: str) -> str:
    return f"{case_id}.html"


def local_url(rel: str) -> str:
    """A file in the output folder, linked from a page in ``review/``."""
    return "../" + quote(rel, safe="/")


def relative_url(page_key: str) -> UrlFor:
    """Links from the page stored at ``page_key`` to other keys in the same bucket."""
    folder = posixpath.dirname(page_key) or "."

    def url_for(key: str) -> str:
        return quote(posixpath.relpath(key, folder), safe="/")

    return url_for


def write(index: dict[str, Any], out_dir: Path) -> Path:
    """Write the site into ``out_dir/review`` (each page to a temporary name, then renamed);
    pages of case studies no longer in the index are removed. Caption tracks are inlined
    (data: URLs), so they load when a page is opened from disk. Returns the overview's
    path."""
    folder = out_dir / REVIEW_DIR
    folder.mkdir(parents=True, exist_ok=True)

    def inline_track(rel: str) -> str:
        # Browsers refuse a file:// page's <track> from another file:// URL (each file is
        # its own origin); a data: URL is the page's own, so captions show from disk too
        try:
            data = (out_dir / rel).read_bytes()
        except OSError:
            return local_url(rel)  # missing: the browser reports it, as for any file
        return "data:text/vtt;charset=utf-8;base64," + base64.b64encode(data).decode()

    site = pages(index, local_url, inline_track)
    for name, text in site.items():
        tmp = folder / f".{name}.partial"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, folder / name)
    for stale in folder.glob("*.html"):
        if stale.name not in site:
            with contextlib.suppress(OSError):
                stale.unlink()
    return folder / OVERVIEW


# ---------------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------------


def _document(title: str, heading: str, body: str, index: dict[str, Any]) -> str:
    meta = (
        f"{escape(index.get('hashtag', ''))} · generated {escape(index.get('generated_at', ''))}"
        f" · pipeline {escape(index.get('pipeline_version', ''))}"
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{escape(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
<p class="meta">{meta}</p>
<h1>{escape(heading)}</h1>
</header>
<main id="main">
{body}
</main>
<script>{_JS}</script>
</body>
</html>
"""


def _badge(kind: str, label: str = "") -> str:
    text = BADGE_TEXT[kind] + (f": {label}" if label else "")
    return f'<span class="badge badge-{kind}" data-badge="{kind}">{escape(text)}</span>'


def _overview(index: dict[str, Any], url_for: UrlFor) -> str:
    cases = index.get("case_studies", [])
    rows = []
    totals = {PASS: 0, WARN: 0, FAIL: 0}
    for case in cases:
        outs = case.get("outputs", [])
        counts = {PASS: 0, WARN: 0, FAIL: 0}
        for o in outs:
            counts[output_badge(o)] += 1
        counts[FAIL] += len(case.get("errors", []))
        for k, v in counts.items():
            totals[k] += v
        thumb = next(iter(case.get("thumbnails") or []), None)
        picture = (
            f'<img src="{escape(url_for(thumb["url"]))}" alt="" width="{thumb["width"]}" '
            f'height="{thumb["height"]}">'
            if thumb
            else ""
        )
        rows.append(
            f'<tr data-case="{escape(case["id"])}" data-badge="{case_badge(case)}">'
            f'<td class="thumb">{picture}</td>'
            f'<th scope="row"><a href="{escape(page_name(case["id"]))}">'
            f'{escape(case["title"])}</a><br><span class="id">{escape(case["id"])}</span></th>'
            f"<td>{escape(case.get('area', ''))}</td>"
            f"<td>{_badge(case_badge(case))}</td>"
            f"<td>{len(outs)}</td>"
            f'<td class="counts">{counts[PASS]} passed, {counts[WARN]} with warnings, '
            f"{counts[FAIL]} failed</td></tr>"
        )
    summary = (
        f'<p class="summary">{len(cases)} case studies; outputs: {totals[PASS]} passed, '
        f"{totals[WARN]} with warnings, {totals[FAIL]} failed.</p>"
    )
    table = (
        '<table class="overview"><caption>Case studies</caption><thead><tr>'
        '<th scope="col"><span class="visually-hidden">Thumbnail</span></th>'
        '<th scope="col">Case study</th><th scope="col">Area</th><th scope="col">Status</th>'
        '<th scope="col">Outputs</th><th scope="col">Checks</th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table>"
    )
    name = index.get("campaign", "Campaign")
    return _document(f"Review: {name}", f"Review: {name}", summary + table, index)


def _duration(seconds: float) -> str:
    m, s = divmod(seconds, 60)
    return f"{int(m)}:{s:06.3f}"


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _language(code: str) -> str:
    return LANGUAGES.get(code.split("-")[0].split("_")[0], code)


def _output(
    case: dict[str, Any], out: dict[str, Any], n: int, url_for: UrlFor, track_for: UrlFor
) -> str:
    what = f"{out['platform']} · {out['cut']} cut · {out['aspect']}"
    badge = output_badge(out)
    poster = out.get("poster") or {}
    vtts = [c for c in out.get("captions", []) if c.get("format") == "vtt"]
    tracks = "".join(
        f'<track kind="captions" src="{escape(track_for(c["url"]))}" srclang="{escape(c["lang"])}" '
        f'label="{escape(_language(c["lang"]))}"{" default" if i == 0 else ""}>'
        for i, c in enumerate(vtts)
    )
    poster_attr = f' poster="{escape(url_for(poster["url"]))}"' if poster.get("url") else ""
    vid = f"v-{escape(case['id'])}-{n}"
    burned = " data-burned" if out.get("burned_captions") else ""
    video = (
        f'<video id="{vid}" controls preload="metadata" playsinline{poster_attr}{burned} '
        f'width="{out["width"]}" height="{out["height"]}" '
        f'aria-label="{escape(case["title"])}: {escape(what)}" '
        f'data-duration="{out["duration_s"]}" data-width="{out["width"]}" '
        f'data-height="{out["height"]}">'
        f'<source src="{escape(url_for(out["url"]))}" type="video/mp4">{tracks}'
        f'<a href="{escape(url_for(out["url"]))}">Download the video</a></video>'
    )
    checks = out.get("checks") or {}
    loudness = (
        f"{checks['loudness_lufs']} LUFS, true peak {checks['true_peak_dbtp']} dBTP"
        + (f" ({checks['normalization']})" if checks.get("normalization") else "")
        if checks.get("loudness_lufs") is not None
        else "not measured"
    )
    sidecars = (
        ", ".join(
            f'<a href="{escape(url_for(c["url"]))}">{escape(c["format"].upper())} '
            f"({escape(_language(c['lang']))})</a>"
            for c in out.get("captions", [])
        )
        or "none"
    )
    facts = [
        ("Platform", escape(out["platform"])),
        ("Cut", escape(out["cut"])),
        ("Aspect ratio", escape(out["aspect"])),
        ("Size", f"{out['width']}×{out['height']}, {out['fps']} fps"),
        ("Duration", _duration(float(out["duration_s"]))),
        ("File size", _megabytes(int(out["bytes"]))),
        ("Loudness", escape(loudness)),
        ("Burned-in captions", "yes" if out.get("burned_captions") else "no"),
        ("Caption files", sidecars),
    ]
    if out.get("end_card_s"):
        facts.append(("End card", f"{out['end_card_s']:.1f} s"))
    if poster.get("url"):
        facts.append(
            (
                "Poster",
                f'<a href="{escape(url_for(poster["url"]))}">JPEG</a>'
                + (
                    f', <a href="{escape(url_for(poster["webp_url"]))}">WebP</a>'
                    if poster.get("webp_url")
                    else ""
                )
                + (f" (frame at {poster['time_s']:.1f} s)" if poster.get("time_s") else ""),
            )
        )
    cover = out.get("cover") or {}
    if cover.get("url"):
        facts.append(("Cover", f'<a href="{escape(url_for(cover["url"]))}">JPEG</a>'))
    facts.append(("Video file", f'<a href="{escape(url_for(out["url"]))}">MP4</a>'))
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    findings = []
    for f in checks.get("failures") or []:
        findings.append(f'<li class="fail">{escape(f)}</li>')
    for w in (out.get("caption_lint") or {}).get("warnings") or []:
        findings.append(f'<li class="warn">{escape(w)}</li>')
    for note in [*(checks.get("notes") or []), *(out.get("notes") or [])]:
        findings.append(f'<li class="note">{escape(note)}</li>')
    details = (
        f"<details><summary>Checks and notes ({len(findings)})</summary><ul>"
        + "".join(findings)
        + "</ul></details>"
        if findings
        else '<p class="none">No warnings or notes.</p>'
    )
    heading_id = f"h-{vid}"
    return (
        f'<article class="output aspect-{escape(out["aspect"].replace(":", "x"))}" '
        f'data-output="{escape(out["url"])}" data-badge="{badge}" '
        f'aria-labelledby="{heading_id}">'
        f'<h3 id="{heading_id}">{escape(what)} {_badge(badge)}</h3>'
        f'<div class="player">{video}</div><dl>{dl}</dl>{details}</article>'
    )


def _case_page(
    index: dict[str, Any], case: dict[str, Any], url_for: UrlFor, track_for: UrlFor
) -> str:
    parts = [
        '<nav aria-label="Review pages"><a href="index.html">All case studies</a></nav>',
        f'<p class="area">{escape(case.get("area", ""))} · {_badge(case_badge(case))}</p>',
    ]
    if case.get("description"):
        parts.append(f'<p class="description">{escape(case["description"].strip())}</p>')
    if case.get("errors"):
        parts.append(
            '<section class="errors" aria-labelledby="errors"><h2 id="errors">Failed</h2><ul>'
            + "".join(f'<li data-badge="fail">{escape(e)}</li>' for e in case["errors"])
            + "</ul></section>"
        )
    drafts = case.get("draft_captions") or []
    if drafts:
        parts.append(
            '<section class="drafts" aria-labelledby="drafts"><h2 id="drafts">Draft captions '
            f"{_badge(WARN, 'not final')}</h2><p>Made by speech recognition: not burned in, "
            "not published. Review and correct the file, then name it under "
            "<code>captions:</code> in the manifest in place of <code>auto</code>.</p><ul>"
            + "".join(
                f'<li data-draft="{escape(d["lang"])}">{escape(_language(d["lang"]))}: '
                f"<code>{escape(d['file'])}</code>, {d['cues']} cues from {d['words']} words "
                f"({escape(d['engine'])})"
                + ("; edited by hand since it was drafted" if d.get("edited") else "")
                + "</li>"
                for d in drafts
            )
            + "</ul></section>"
        )
    outs = case.get("outputs", [])
    parts.append(
        f'<section aria-labelledby="outputs"><h2 id="outputs">Outputs ({len(outs)})</h2>'
        + "".join(_output(case, o, n, url_for, track_for) for n, o in enumerate(outs))
        + "</section>"
    )
    thumbs = case.get("thumbnails") or []
    sheet = case.get("contact_sheet")
    if thumbs or sheet:
        figures = "".join(
            f'<figure><a href="{escape(url_for(t["url"]))}"><img src="{escape(url_for(t["url"]))}" '
            f'width="{t["width"]}" height="{t["height"]}" '
            f'alt="Thumbnail {escape(t["aspect"])}, frame at {t.get("time_s", 0):.1f} s"></a>'
            f"<figcaption>{escape(t['aspect'])} at {t.get('time_s', 0):.1f} s</figcaption></figure>"
            for t in thumbs
        )
        sheet_html = (
            f'<figure class="sheet"><a href="{escape(url_for(sheet["url"]))}">'
            f'<img src="{escape(url_for(sheet["url"]))}" width="{sheet["width"]}" '
            f'height="{sheet["height"]}" '
            f'alt="Contact sheet of {escape(case["title"])}"></a>'
            "<figcaption>Contact sheet</figcaption></figure>"
            if sheet
            else ""
        )
        parts.append(
            '<section aria-labelledby="stills"><h2 id="stills">Thumbnails and contact sheet</h2>'
            f'<div class="thumbs">{figures}</div>{sheet_html}</section>'
        )
    return _document(f"Review: {case['title']}", case["title"], "\n".join(parts), index)


# Plain CSS, inline: no external files or CDN. Colours keep at least 4.5:1 contrast, and
# every badge says its state in words, not only in colour.
_CSS = """
:root{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;
background:#fafafa;line-height:1.45}
body{margin:0 auto;max-width:80rem;padding:0 1rem 3rem}
header{border-bottom:1px solid #ccc;margin-bottom:1rem}
h1{margin:.2rem 0 .8rem}.meta{color:#555;margin:.8rem 0 0;font-size:.9rem}
a{color:#0b57d0}a:focus-visible,video:focus-visible,summary:focus-visible{outline:3px solid
#f2a900;outline-offset:2px}
.skip{position:absolute;left:-999px;top:0;background:#fff;padding:.5rem}
.skip:focus{left:1rem;z-index:10}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
.badge{display:inline-block;border-radius:.3rem;padding:.05rem .45rem;font-size:.85rem;
font-weight:600;vertical-align:middle;border:1px solid}
.badge-pass{background:#e6f4ea;color:#0d652d;border-color:#0d652d}
.badge-warn{background:#fef7e0;color:#7a4b00;border-color:#7a4b00}
.badge-fail{background:#fce8e6;color:#a50e0e;border-color:#a50e0e}
table.overview{border-collapse:collapse;width:100%}
.overview caption{text-align:left;font-weight:600;padding:.4rem 0}
.overview th,.overview td{border-bottom:1px solid #ddd;padding:.5rem;text-align:left;
vertical-align:middle}
.overview td.thumb img{width:8rem;height:auto;display:block}
.id{color:#555;font-weight:400;font-size:.85rem}
.output{background:#fff;border:1px solid #ddd;border-radius:.4rem;padding:1rem;margin:1rem 0;
display:grid;grid-template-columns:minmax(0,26rem) 1fr;gap:.5rem 1.5rem}
.output h3{grid-column:1/-1;margin:0}
.output details,.output .none{grid-column:1/-1;margin:0}
.player video{width:100%;height:auto;max-height:32rem;background:#000}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0;align-self:start;
align-content:start}
dt{font-weight:600}dd{margin:0}
li.fail{color:#a50e0e}li.warn{color:#7a4b00}
.errors{border:1px solid #a50e0e;border-radius:.4rem;padding:0 1rem;background:#fff}
.drafts{border:1px solid #7a4b00;border-radius:.4rem;padding:0 1rem;background:#fff}
.thumbs{display:flex;flex-wrap:wrap;gap:1rem}
.thumbs img{max-width:16rem;height:auto}
figure{margin:0}.sheet img{max-width:100%;height:auto;margin-top:1rem}
@media (max-width:50rem){.output{grid-template-columns:1fr}}
"""

# Captions on by default, whatever the browser's own default for a track; where the picture
# has captions burned in at the bottom, the track's cues go to the top so the two can be
# compared instead of covering each other. Only one video plays at a time.
_JS = """
function toTop(t) {
  if (!t.track.cues) return;
  for (var i = 0; i < t.track.cues.length; i++) {
    t.track.cues[i].snapToLines = true;
    t.track.cues[i].line = 0;
  }
}
document.querySelectorAll('video[data-burned] track').forEach(function (t) {
  if (t.readyState === 2) toTop(t);
  t.addEventListener('load', function () { toTop(t); });
});
document.querySelectorAll('video').forEach(function (v) {
  for (var i = 0; i < v.textTracks.length; i++) {
    v.textTracks[i].mode = i === 0 ? 'showing' : 'hidden';
  }
  v.addEventListener('play', function () {
    document.querySelectorAll('video').forEach(function (o) { if (o !== v) o.pause(); });
  });
});
"""

__all__ = [
    "FAIL",
    "PASS",
    "REVIEW_DIR",
    "WARN",
    "case_badge",
    "local_url",
    "output_badge",
    "pages",
    "relative_url",
    "write",
]
