"""Row (b) of the benchmark: the four aspect ratios written the way a MoviePy 2 user would.

Usage: python moviepy_baseline.py SOURCE OUT_DIR PRESET CRF
Deliberately plain: open the clip, crop around the centre, resize, write, once per output.
"""

from __future__ import annotations

import sys
from pathlib import Path

from moviepy import VideoFileClip

OUTPUTS = {"16x9": (1920, 1080), "1x1": (1080, 1080), "4x5": (1080, 1350), "9x16": (1080, 1920)}


def main() -> None:
    source, out_dir, preset, crf = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]
    out_dir.mkdir(parents=True, exist_ok=True)
    clip = VideoFileClip(source)
    for name, (w, h) in OUTPUTS.items():
        scale = min(clip.w / w, clip.h / h)
        cw, ch = int(w * scale) // 2 * 2, int(h * scale) // 2 * 2
        out = clip.cropped(x_center=clip.w / 2, y_center=clip.h / 2, width=cw, height=ch)
        out = out.resized(new_size=(w, h))
        out.write_videofile(
            str(out_dir / f"moviepy-{name}.mp4"),
            codec="libx264",
            preset=preset,
            audio_codec="aac",
            audio_fps=48000,
            ffmpeg_params=["-crf", crf, "-pix_fmt", "yuv420p", "-profile:v", "high"],
            logger=None,
        )
    clip.close()


if __name__ == "__main__":
    main()
