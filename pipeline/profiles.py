"""Platform profiles: every number a platform imposes on an upload, in one place.

Each number carries its source. "ref" sources point at ``shared/reference/platforms-and-anchors.md``
(section numbers in brackets), which records the original public page; "(2nd-hand)" marks a
number that came from a vendor's summary rather than the platform's own help page, and
"(our choice)" marks a value no platform dictates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

ASPECTS: tuple[str, ...] = ("16:9", "1:1", "4:5", "9:16")

# Default x264 preset, chosen from `make bench` (2 cores, 20 s 1080p30 source, 1:1 output,
# CRF 23): medium 89.4 CPU s, VMAF 96.23; faster 56.5 CPU s, VMAF 95.25; veryfast 41.3 CPU s,
# VMAF 91.96. `faster` keeps VMAF within 1 point of `medium` for 63% of its CPU; `veryfast`
# saves 27% more but loses over 3 points. Feeds the platform re-encodes anyway, so `faster`
# everywhere except YouTube, whose own transcode of a 1080p upload gains from the extra point.
PRESET_CHOICE = "bench 2026-11-26, see README 'Speed'"

MB = 1_000_000


@dataclass(frozen=True)
class Sized:
    width: int
    height: int


@dataclass(frozen=True)
class PlatformProfile:
    """What one platform accepts. Frozen: profiles are part of each job's content hash."""

    name: str
    label: str
    sizes: dict[str, Sized]  # aspect ratio -> output resolution; its keys are the allowed aspects
    min_duration: Fraction
    max_duration: Fraction | None
    max_bytes: int
    min_fps: Fraction
    max_fps: Fraction
    h264_profile: str
    h264_level: str
    max_video_kbps: int  # cap on the encoder's peak rate, at the profile's largest size
    audio_kbps: int
    audio_rate: int
    audio_channels: int
    keyint_seconds: Fraction  # distance between IDR frames (closed GOP)
    preset: str = "faster"  # default x264 preset; see PRESET_CHOICE
    # Feeds autoplay muted (Meta, X, LinkedIn: ref fact 1 and §4.3), so captions are burned in
    # by default; the web page and YouTube have players that show the sidecar track instead.
    burn_captions: bool = True
    # Social feeds end with the campaign's branded card (issue: end cards); the web page has
    # its own branding around the player, so its files stay clean.
    end_card: bool = True
    # The custom cover or thumbnail image the platform takes with an upload, if any, and its
    # size limit in bytes (None: no stated limit).
    cover: Sized | None = None
    cover_max_bytes: int | None = None
    # Loudness (pipeline.loudness): integrated target in LUFS, true-peak ceiling in dBTP and
    # the loudness range loudnorm may keep. Social and web: -16 LUFS, the AES TD1004 ceiling
    # for streaming and 2 LU under the -14 that YouTube and Spotify turn louder masters down
    # to, so no platform turns ours up; -1.5 dBTP leaves AAC's overshoot room under the -1
    # dBTP every norm asks for (ref §5, fact 7). LRA 11 LU: loudnorm gives up linear gain
    # (and compresses) when the material's range exceeds the target's; interviews with
    # quieter and louder speakers run 6-10 LU, and 11 keeps them linear, where loudnorm's
    # default 7 would squash them (ref §3, take-away 3: always linear).
    loudness_lufs: float = -16.0
    true_peak_dbtp: float = -1.5
    loudness_lra: float = 11.0
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def aspects(self) -> tuple[str, ...]:
        return tuple(a for a in ASPECTS if a in self.sizes)

    def video_kbps_for(self, width: int, height: int) -> int:
        """Scale the peak-rate cap with pixel count, so a 720x720 output gets less than 1080p."""
        largest = max(s.width * s.height for s in self.sizes.values())
        return max(500, round(self.max_video_kbps * (width * height) / largest))


_SIZES_1080 = {
    "16:9": Sized(1920, 1080),
    "1:1": Sized(1080, 1080),
    "4:5": Sized(1080, 1350),
    "9:16": Sized(1080, 1920),
}

_COMMON_SOURCES = {
    "h264": "H.264 High, 4:2:0, progressive, closed GOP, moov at front: YouTube upload "
    "encoding settings, support.google.com/youtube/answer/1722171 (ref §1.1, fact 4)",
    "audio": "AAC-LC 48 kHz stereo: YouTube upload settings (ref §1.1); Apple HLS §2.3 "
    "requires stereo AAC (ref §1.5)",
    "keyint": "IDR every 2 s: Apple HLS authoring spec §1.13 (ref §1.5)",
    "loudness": "-16 LUFS integrated, true peak <= -1.5 dBTP, LRA 11 LU: AES TD1004 <= -16 "
    "LUFS, streaming norms -14 LUFS / -1 dBTP; -1.5 is the reference's recommended social/web "
    "preset, LRA our choice (ref §5, fact 7)",
}

PROFILES: dict[str, PlatformProfile] = {
    "x": PlatformProfile(
        name="x",
        label="X / Twitter",
        sizes={
            "16:9": Sized(1280, 720),
            "1:1": Sized(720, 720),
            "4:5": Sized(720, 900),
            "9:16": Sized(720, 1280),
        },
        min_duration=Fraction(1, 2),
        max_duration=Fraction(140),
        max_bytes=512 * MB,
        min_fps=Fraction(1),
        max_fps=Fraction(60),
        h264_profile="high",
        h264_level="4.1",
        max_video_kbps=5000,
        audio_kbps=128,
        audio_rate=48000,
        audio_channels=2,
        keyint_seconds=Fraction(2),
        sources={
            "sizes": "recommended 1280x720, 720x1280, 720x720; aspect 1:3-3:1 allowed, so 4:5 "
            "is 720x900 (our choice at the same width): ayrshare.com/docs/media-guidelines/"
            "x-twitter (ref §1.1, fact 5)",
            "duration": "0.5-140 s for standard accounts (ref §1.1, fact 5)",
            "max_bytes": "512 MB (ref §1.1, fact 5)",
            "fps": "<=60 fps (ref §1.1)",
            "bitrate": "5 Mbps at 720p: YouTube's 720p SDR figure (ref §1.2), used as the "
            "cap because X publishes none in our sources (our choice)",
            **_COMMON_SOURCES,
        },
    ),
    "linkedin": PlatformProfile(
        name="linkedin",
        label="LinkedIn",
        sizes=dict(_SIZES_1080),
        min_duration=Fraction(3),
        max_duration=Fraction(15 * 60),
        max_bytes=200 * MB,
        min_fps=Fraction(10),
        max_fps=Fraction(30000, 1001),
        h264_profile="high",
        h264_level="4.1",
        max_video_kbps=8000,
        audio_kbps=128,
        audio_rate=48000,
        audio_channels=2,
        keyint_seconds=Fraction(2),
        sources={
            "sizes": "1920x1080, 1080x1920, 1080x1350, 1:1; 4:5 recommended: linkedin.com/help/"
            "lms/answer/a424737 (ref §1.1, fact 6)",
            "duration": "3 s minimum (ads and organic); 15 min organic desktop maximum, other "
            "sources say 10 min: transmissionagency.com (2nd-hand, ref §1.1, §7)",
            "max_bytes": "ads 500 MB today, 200 MB in older docs: we use the stricter 200 MB "
            "(ref §1.1, §7)",
            "fps": "ads: under 30 fps, so 29.97 is the cap; organic 10-60 (ref §1.1, fact 6)",
            "bitrate": "8 Mbps at 1080p: YouTube's 1080p SDR figure (ref §1.2) (our choice)",
            **_COMMON_SOURCES,
        },
    ),
    "facebook": PlatformProfile(
        name="facebook",
        label="Facebook feed",
        sizes=dict(_SIZES_1080),
        min_duration=Fraction(1),
        max_duration=Fraction(241 * 60),
        max_bytes=4000 * MB,
        min_fps=Fraction(23),
        max_fps=Fraction(60),
        h264_profile="high",
        h264_level="4.1",
        max_video_kbps=8000,
        audio_kbps=128,
        audio_rate=48000,
        audio_channels=2,
        keyint_seconds=Fraction(2),
        sources={
            "sizes": "4:5 recommended, 1:1, 9:16 allowed in feed, >=1080x1080: noedos.com Meta "
            "video specs (2nd-hand, ref §1.1)",
            "duration": "1 s - 241 min (2nd-hand, ref §1.1)",
            "max_bytes": "4 GB (2nd-hand, ref §1.1)",
            "fps": "fixed frame rate; 23-60 as for Reels (ref §1.1)",
            "audio": "stereo AAC >=128 kbps (ref §1.1)",
            "bitrate": "8 Mbps at 1080p: YouTube's 1080p SDR figure (ref §1.2) (our choice)",
            "h264": _COMMON_SOURCES["h264"],
            "keyint": _COMMON_SOURCES["keyint"],
            "loudness": _COMMON_SOURCES["loudness"],
        },
    ),
    "reels": PlatformProfile(
        name="reels",
        label="Facebook / Instagram Reels",
        sizes={"9:16": Sized(1080, 1920)},
        min_duration=Fraction(3),
        max_duration=Fraction(90),
        max_bytes=300 * MB,
        min_fps=Fraction(23),
        max_fps=Fraction(60),
        h264_profile="high",
        h264_level="4.1",
        max_video_kbps=8000,
        audio_kbps=128,
        audio_rate=48000,
        audio_channels=2,
        keyint_seconds=Fraction(2),
        cover=Sized(1080, 1920),
        sources={
            "sizes": "9:16 1080x1920: ayrshare.com/docs/media-guidelines/instagram.md (ref §1.1)",
            "cover": "Instagram Reel cover 1080x1920 (9:16), no stated size limit (2nd-hand, "
            "ref §1.3)",
            "duration": "Reels ads 0.5-90 s (2nd-hand); organic via API from 3 s: we take the "
            "intersection, 3-90 s (ref §1.1)",
            "max_bytes": "API 300 MB in the English docs, 1 GB in translations: the stricter "
            "300 MB (ref §1.1, §7)",
            "fps": "23-60 fps (API) (ref §1.1)",
            "h264": "no edit lists, moov at front, closed GOP, 4:2:0 (ref §1.1)",
            "audio": "AAC <=48 kHz, mono or stereo (ref §1.1)",
            "bitrate": "8 Mbps at 1080p: YouTube's 1080p SDR figure (ref §1.2) (our choice)",
            "keyint": _COMMON_SOURCES["keyint"],
            "loudness": _COMMON_SOURCES["loudness"],
        },
    ),
    "youtube": PlatformProfile(
        name="youtube",
        label="YouTube",
        sizes={"16:9": Sized(1920, 1080)},
        min_duration=Fraction(1),
        max_duration=Fraction(12 * 3600),
        max_bytes=256_000 * MB,
        min_fps=Fraction(1),
        max_fps=Fraction(60),
        h264_profile="high",
        h264_level="4.2",
        max_video_kbps=8000,
        audio_kbps=384,
        audio_rate=48000,
        audio_channels=2,
        keyint_seconds=Fraction(1, 2),
        preset="medium",
        burn_captions=False,
        cover=Sized(1280, 720),
        cover_max_bytes=2 * MB,
        sources={
            "cover": "custom thumbnail 1280x720, under 2 MB, JPG (2nd-hand quoting YouTube "
            "help, ref §1.3)",
            "sizes": "16:9, standard sizes up to 2160p: support.google.com/youtube/answer/1722171 "
            "(ref §1.1)",
            "duration": "12 h upload limit for verified accounts (our note; no limit in ref)",
            "max_bytes": "256 GB (2nd-hand, ref §1.1)",
            "bitrate": "1080p SDR 8 Mbps at 24-30 fps, 12 Mbps at 48-60 fps (ref §1.2)",
            "audio": "AAC-LC 48 kHz, stereo 384 kbps (ref §1.2, fact 4)",
            "keyint": "closed GOP of half the frame rate (ref fact 4)",
            "h264": _COMMON_SOURCES["h264"],
            "loudness": _COMMON_SOURCES["loudness"],
        },
    ),
    "youtube_shorts": PlatformProfile(
        name="youtube_shorts",
        label="YouTube Shorts",
        sizes={"1:1": Sized(1080, 1080), "9:16": Sized(1080, 1920)},
        min_duration=Fraction(1),
        max_duration=Fraction(180),
        max_bytes=256_000 * MB,
        min_fps=Fraction(1),
        max_fps=Fraction(60),
        h264_profile="high",
        h264_level="4.2",
        max_video_kbps=8000,
        audio_kbps=384,
        audio_rate=48000,
        audio_channels=2,
        keyint_seconds=Fraction(1, 2),
        preset="medium",
        cover=Sized(1080, 1920),
        sources={
            "cover": "9:16 1080x1920 cover, as Instagram's Reel cover (ref §1.3) (our choice: "
            "Shorts picks a frame in the app)",
            "sizes": "square or taller; 9:16 1080x1920 fills the screen (ref §1.1)",
            "duration": "up to 3 min since 15 Oct 2024: kapwing.com quoting YouTube (2nd-hand, "
            "ref §1.1)",
            "bitrate": "as YouTube (ref §1.2)",
            "audio": "as YouTube (ref §1.2)",
            "keyint": "as YouTube (ref fact 4)",
            "h264": _COMMON_SOURCES["h264"],
            "loudness": _COMMON_SOURCES["loudness"],
        },
    ),
    "web": PlatformProfile(
        name="web",
        label="Campaign web page",
        sizes=dict(_SIZES_1080),
        min_duration=Fraction(1, 2),
        max_duration=None,
        max_bytes=2000 * MB,
        min_fps=Fraction(1),
        max_fps=Fraction(60),
        h264_profile="high",
        h264_level="4.2",
        max_video_kbps=7800,
        audio_kbps=160,
        audio_rate=48000,
        audio_channels=2,
        keyint_seconds=Fraction(2),
        burn_captions=False,
        end_card=False,
        sources={
            "sizes": "1920x1080 top rung of the Apple HLS ladder (§1.25); other aspects at the "
            "same 1080 short side (our choice) (ref §1.5)",
            "bitrate": "1920x1080 at 7800 kb/s, top of the Apple HLS H.264 ladder §1.25 (ref §1.5)",
            "audio": "stereo AAC 32-160 kb/s: Apple HLS §2.9 (ref §1.5)",
            "max_bytes": "no platform limit; 2 GB keeps a progressive download sane (our choice)",
            "keyint": _COMMON_SOURCES["keyint"],
            "h264": _COMMON_SOURCES["h264"],
            "loudness": _COMMON_SOURCES["loudness"],
        },
    ),
    "broadcast": PlatformProfile(
        name="broadcast",
        label="Broadcast (EBU R128)",
        sizes={"16:9": Sized(1920, 1080)},
        min_duration=Fraction(1),
        max_duration=None,
        max_bytes=50_000 * MB,
        # 23.976-30 fps: 25 fps footage (UK/EU broadcast) passes through unchanged
        min_fps=Fraction(24000, 1001),
        max_fps=Fraction(30),
        h264_profile="high",
        h264_level="4.1",
        max_video_kbps=8000,
        audio_kbps=192,
        audio_rate=48000,
        audio_channels=2,
        keyint_seconds=Fraction(2),
        burn_captions=False,
        end_card=False,
        loudness_lufs=-23.0,
        true_peak_dbtp=-1.0,
        sources={
            "sizes": "16:9 1920x1080, the HD broadcast raster (our choice)",
            "loudness": "EBU R128: -23 LUFS (+-1 LU in production since v4.0), max true peak "
            "-1 dBTP; keep -23 only as a broadcast preset (ref §5, fact 7)",
            "captions": "broadcasters carry their own subtitles: sidecars only, none burned in, "
            "no end card (our choice)",
            "bitrate": "8 Mbps at 1080p: YouTube's 1080p SDR figure (ref §1.2) (our choice: "
            "broadcasters re-encode to their own mezzanine)",
            "audio": "AAC-LC 48 kHz stereo 192 kb/s (our choice, as YouTube's rate class, "
            "ref §1.2)",
            "max_bytes": "no platform limit; 50 GB (our choice)",
            "keyint": _COMMON_SOURCES["keyint"],
            "h264": _COMMON_SOURCES["h264"],
        },
    ),
}


def get_profile(name: str) -> PlatformProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown platform {name!r} (known: {', '.join(PROFILES)})") from None
