"""Footage for the sample campaign in ``manifests/``, generated on first ``make render``.

Media files are never committed. When the team's shared media folder (``../shared/media``
beside the project, or ``$PIPELINE_SHARED_MEDIA``) is present, samples are cut from those
real, openly licensed clips (see its SOURCES.md); otherwise they are synthesised with
FFmpeg's lavfi sources in the same shapes, so a fresh clone renders the same campaign.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.ffmpeg_run import ffmpeg_exe, run


@dataclass(frozen=True)
class Sample:
    name: str
    what: str
    real: tuple[str, ...]  # files under shared/media/video, joined in order
    real_filter: str  # applied after joining the real files
    synthetic: tuple[str, ...]  # lavfi input arguments
    rotation: int = 0  # display-matrix rotation to tag on, as phones do


SAMPLES = (
    Sample(
        name="avon-somerset-walk.mp4",
        what="16 s of 4:3 B-roll with people walking towards the camera",
        real=("openmpf_video_02.mp4",),
        real_filter="[0:v]trim=duration=16,setpts=PTS-STARTPTS[v];[0:a]atrim=duration=16,asetpts=PTS-STARTPTS[a]",
        synthetic=(
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=640x480:r=30000/1001:d=16",
            "-f",
            "lavfi",
            "-i",
            "sine=f=330:d=16:sample_rate=44100",
        ),
    ),
    Sample(
        name="west-midlands-interview.mp4",
        what="12 s talking-head interview, 5:4, four short takes",
        real=("grid_bbaf2n.mpg", "grid_lwbsza.mpg", "grid_bbaf2n.mpg", "grid_lwbsza.mpg"),
        real_filter="[0:v][0:a][1:v][1:a][2:v][2:a][3:v][3:a]concat=n=4:v=1:a=1[v][a]",
        synthetic=(
            "-f",
            "lavfi",
            "-i",
            "color=c=0x2b4a7a:s=360x288:r=25:d=12,drawbox=x=130:y=60:w=100:h=130:color=0xe0b090:t=fill",
            "-f",
            "lavfi",
            "-i",
            "sine=f=220:d=12:sample_rate=44100",
        ),
    ),
    Sample(
        name="northumbria-phone.mp4",
        what="15 s of portrait phone footage: stored 1280x720 with a 90 degree rotation flag",
        real=(),
        real_filter="",
        synthetic=(
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=1280x720:r=30:d=15",
            "-f",
            "lavfi",
            "-i",
            "sine=f=550:d=15:sample_rate=48000",
        ),
        rotation=90,
    ),
)


def shared_media(root: Path) -> Path | None:
    env = os.environ.get("PIPELINE_SHARED_MEDIA")
    folder = Path(env) if env else root.parent / "shared" / "media"
    return folder if (folder / "video").is_dir() else None


def _ffmpeg(*args: str) -> list[str]:
    base = ["-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1"]
    return [ffmpeg_exe(), *base, *args]


def _argv(sample: Sample, target: Path, shared: Path | None) -> list[str]:
    args = _ffmpeg()
    if shared and sample.real and all((shared / "video" / f).is_file() for f in sample.real):
        for f in sample.real:
            args += ["-i", f"file:{shared / 'video' / f}"]
        args += ["-filter_complex", sample.real_filter, "-map", "[v]", "-map", "[a]"]
    else:
        args += [*sample.synthetic, "-shortest"]
    args += [
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "18",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
    ]
    return [*args, "-f", "mp4", f"file:{target}"]


def make_samples(
    media_dir: Path, force: bool = False, shared: Path | None = None
) -> Iterator[tuple[Path, bool]]:
    """Write each sample that is missing; yield (path, generated_now).

    ``shared`` is the shared media folder; by default it is looked for beside the project.
    """
    media_dir.mkdir(parents=True, exist_ok=True)
    shared = shared or shared_media(media_dir.parent)
    for sample in SAMPLES:
        target = media_dir / sample.name
        if target.exists() and not force:
            yield target, False
            continue
        tmp = target.with_name(f".{target.name}.partial")
        plain = target.with_name(f".{target.name}.unrotated")
        try:
            run(_argv(sample, plain if sample.rotation else tmp, shared), f"sample {sample.name}")
            if sample.rotation:
                # The rotation flag can only be set on input and kept by stream copy: that is
                # how a phone's file looks (landscape pixels, a display matrix saying turn).
                run(
                    _ffmpeg(
                        "-display_rotation:v:0",
                        str(sample.rotation),
                        "-i",
                        f"file:{plain}",
                        "-c",
                        "copy",
                        "-f",
                        "mp4",
                        f"file:{tmp}",
                    ),
                    f"sample {sample.name} rotation",
                )
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
            plain.unlink(missing_ok=True)
        yield target, True
