"""Bench row (b2): blur-pad plus burned-in captions, the way a MoviePy 2 user would write it.

Usage: python moviepy_pad_captions.py SOURCE SRT OUT_DIR PRESET CRF FONT_FILE
Background: the frame scaled to cover and blurred with Pillow; foreground: the frame fitted;
captions: MoviePy's SubtitlesClip of TextClips; composited, once per output.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from moviepy import CompositeVideoClip, TextClip, VideoFileClip
from moviepy.video.tools.subtitles import SubtitlesClip
from PIL import Image, ImageFilter

OUTPUTS = {"16x9": (1920, 1080), "1x1": (1080, 1080), "4x5": (1080, 1350), "9x16": (1080, 1920)}


def main() -> None:
    source, srt, out_dir, preset, crf, font = sys.argv[1:7]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clip = VideoFileClip(source)
    for name, (w, h) in OUTPUTS.items():
        cover = max(w / clip.w, h / clip.h)
        bg = clip.resized(cover).cropped(
            x_center=clip.w * cover / 2, y_center=clip.h * cover / 2, width=w, height=h
        )
        bg = bg.image_transform(
            lambda f: np.asarray(Image.fromarray(f).filter(ImageFilter.GaussianBlur(20)))
        )
        fg = clip.resized(min(w / clip.w, h / clip.h)).with_position("center")

        def make_text(text: str, w: int = w, h: int = h) -> TextClip:
            return TextClip(
                font=font,
                text=text,
                font_size=int(min(w, h) * 0.06),
                color="white",
                bg_color="black",
                method="caption",
                size=(int(w * 0.8), None),
            )

        subs = SubtitlesClip(srt, make_textclip=make_text, encoding="utf-8")
        subs = subs.with_position(("center", int(h * 0.6)))
        video = CompositeVideoClip([bg, fg, subs], size=(w, h)).with_duration(clip.duration)
        video = video.with_audio(clip.audio)
        video.write_videofile(
            str(out / f"moviepy-pad-{name}.mp4"),
            codec="libx264",
            preset=preset,
            audio_codec="aac",
            audio_fps=48000,
            ffmpeg_params=["-crf", crf, "-pix_fmt", "yuv420p"],
            logger=None,
        )
    clip.close()


if __name__ == "__main__":
    main()
