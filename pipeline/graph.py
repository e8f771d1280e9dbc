"""Build the one FFmpeg command for a cut: decode each segment once, join them
frame-accurately, split to every output, encode each. Pure: returns an argument list.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import ffmpeg

from pipeline.aspect import get_strategy
from pipeline.captions.ass import burn_filter
from pipeline.colour import HDR_PEAK, HDR_REFERENCE_WHITE, MOBIUS_KNEE
from pipeline.jobs import CutJob, OutputJob

# Extra source read past each segment's out point, so the fps filter always has the last
# frame in hand; trim then cuts exactly. Half a second covers any sane frame duration.
READ_MARGIN = Fraction(1, 2)

# Each segment's input seek starts this far before its in point. In MP4 or MKV FFmpeg's seek
# lands on a keyframe and decodes forward, but in MPEG-PS/TS it lands on any frame and the
# decoder drops everything up to the next keyframe: on a 12-frame-GOP .mpg, ``-ss 0.4``
# started at frame 12 instead of 10. A second of preroll covers the GOPs those formats use;
# the fps filter then picks the in point's frame by its timestamp.
SEEK_PREROLL = Fraction(1)

# FFmpeg's AAC encoder emits 1024 samples of encoder delay ("priming") before the first real
# sample. MP4 hides them with an edit list, which platforms reject (see ``_encode_args``);
# without one, players play them and the audio lags the picture by 21 ms at 48 kHz (measured:
# every beep 21.4 ms after its flash). So each output's audio starts 1024 samples into the
# cut: the priming takes the place of those samples and every later one plays on time.
AAC_PRIMING = 1024


def rate(f: Fraction) -> str:
    return f"{f.numerator}/{f.denominator}"


def seconds(t: Fraction) -> str:
    """Seconds for FFmpeg options, floored to the microsecond FFmpeg parses them to, so a
    seek never starts after the point it was asked for."""
    us = math.floor(t * 1_000_000)
    return f"{us // 1_000_000}.{us % 1_000_000:06d}"


def sample_bounds(job: CutJob, audio_rate: int) -> list[int]:
    """Cumulative audio sample positions of each join, derived from whole video frames.

    Rounding the cumulative position (not each segment) keeps audio within half a sample
    of video at every join, however many segments there are.
    """
    bounds, frames = [0], 0
    for seg in job.segments:
        frames += round(seg.duration * job.fps)
        bounds.append(round(Fraction(frames) / job.fps * audio_rate))
    return bounds


def _segment_frames(job: CutJob) -> list[int]:
    return [round(s.duration * job.fps) for s in job.segments]


def _joined(job: CutJob, audio_rate: int) -> tuple[Any, Any]:
    """The cut as one video and one audio stream on exact constant-rate timelines."""
    r = rate(job.fps)
    bounds = sample_bounds(job, audio_rate)
    parts: list[Any] = []
    for i, (seg, frames) in enumerate(zip(job.segments, _segment_frames(job), strict=True)):
        # Near the start, no seek at all: decode from the beginning. A seek to before the
        # first video packet (CREMA-D's FLV starts its video at 27 ms) fails, and FFmpeg then
        # decodes from wherever probing left the reader: every frame an error.
        preroll = seg.start if seg.start <= 2 * SEEK_PREROLL else SEEK_PREROLL
        seek = {"ss": seconds(seg.start - preroll)} if seg.start > preroll else {}
        src = ffmpeg.input(
            f"file:{job.source}", **seek, t=seconds(preroll + seg.duration + READ_MARGIN)
        )
        picture = src["v:0"]
        if job.deinterlace:
            # Before fps, which would otherwise pick woven frames whose two fields are 1/50 s
            # apart. Every frame: the probe already found the stream interlaced, and some
            # encoders flag only a few frames. One frame per frame pair of fields, so the
            # cut keeps the source's rate, as the plan has it.
            picture = picture.filter("bwdif", mode="send_frame", parity="auto", deint="all")
        v = (
            picture
            # The in point becomes time 0; fps keeps, for each output slot, the frame nearest
            # to it and drops everything before 0. Nearest, not "at or after": containers
            # round times (MKV and FLV to the millisecond) and some start their video a few
            # milliseconds after their audio, so the in point's frame can sit either side.
            .filter("setpts", f"PTS-{rate(preroll)}/TB")
            .filter("fps", fps=r, start_time=0, round="near")
            .filter("tpad", stop_mode="clone", stop=math.ceil(job.fps))
            .filter("trim", end_frame=frames)
            # round(): N/(25/1)/TB with TB 1/25 is 93.99999 for N=94 in floating point, and
            # setpts truncates: frame 94 got frame 93's time and the encoder dropped it
            .filter("setpts", f"round(N/({r})/TB)")
        )
        parts.append(v)
        if job.has_audio:
            skip = round(preroll * audio_rate)
            samples = bounds[i + 1] - bounds[i]
            a = (
                src["a:0"]
                .filter("aresample", audio_rate, first_pts=0)
                .filter("aformat", channel_layouts="stereo")
                .filter("apad")
                # Sample counts, not timestamps: after first_pts=0 they are the same thing,
                # and counting cannot be thrown off by a source's timestamp jitter.
                .filter("atrim", start_sample=skip, end_sample=skip + samples)
                .filter("asetpts", f"round(N/{audio_rate}/TB)")
            )
            parts.append(a)
    if len(job.segments) == 1:
        video = parts[0]
        audio = parts[1] if job.has_audio else None
    else:
        joined = ffmpeg.concat(*parts, v=1, a=1 if job.has_audio else 0).node
        video = joined[0]
        audio = joined[1] if job.has_audio else None
    if audio is None:
        silence = ffmpeg.input(f"anullsrc=r={audio_rate}:cl=stereo", f="lavfi")
        audio = (
            silence["a"]
            .filter("atrim", end_sample=bounds[-1])
            .filter("asetpts", f"round(N/{audio_rate}/TB)")
        )
    if job.tone_map:
        video = _tone_mapped(video)
    elif job.colour_matrix or job.full_range:
        video = _to_bt709(video, job)
    # FFmpeg's CLI gives the encoder (so x264's VUI and the MP4's colr box) the frames' tags,
    # not the -color_primaries/-color_trc options: untagged frames made untagged files
    video = video.filter(
        "setparams", color_primaries="bt709", color_trc="bt709", colorspace="bt709", range="tv"
    )
    if job.needs_square_pixels:
        w, h = job.display_size
        video = video.filter("scale", w, h).filter("setsar", 1)
    return video, audio


def _tone_mapped(video: Any) -> Any:
    """PQ or HLG BT.2020 to SDR BT.709 8-bit, mid-tones kept: in linear light with reference
    white at 1.0, to BT.709 primaries, then Mobius, which is linear up to its knee (0.5, above
    18% grey) and rolls off only the highlights. Measured on BT.2408 test levels: 18% grey
    stays 108/255 and reference white 228 for both transfers; Hable crushed grey to 80.
    ``pipeline.colour.hdr_to_sdr`` is the same curve for stills."""
    return (
        video.filter("zscale", t="linear", npl=HDR_REFERENCE_WHITE)
        .filter("format", "gbrpf32le")
        .filter("zscale", p="bt709")
        .filter("tonemap", tonemap="mobius", param=MOBIUS_KNEE, peak=float(HDR_PEAK), desat=0)
        .filter("zscale", t="bt709", m="bt709", r="tv")
        .filter("format", "yuv420p")
    )


def _to_bt709(video: Any, job: CutJob) -> Any:
    """An SDR source's YCbCr to BT.709's matrix and limited range. Players read HD as
    BT.709, so an SD source's BT.601 colours left as they are shift (colour bars read back
    as BT.709: up to 25 code values off, a skin tone redder), and full range read as
    limited loses its shadows and highlights. The matrix only, as SD-to-HD conversion is
    done: the colorspace filter, converting BT.601's primaries too, put the bars up to 23
    code values from their RGB.

    swscale, accurately rounded and with full chroma interpolation: the bars through the
    render's scaling came out within 4 code values (mean 2) of their RGB, from BT.601
    limited and full range alike; without those flags up to 6 off. zscale was as close from
    limited range but up to 19 off from full range."""
    return video.filter(
        "scale",
        in_color_matrix=job.colour_matrix or "bt709",
        out_color_matrix="bt709",
        in_range="pc" if job.full_range else "tv",
        out_range="tv",
        flags="accurate_rnd+full_chroma_int",
    )


def _video_for(
    stream: Any,
    job: CutJob,
    out: OutputJob,
    subtitles: str | None,
    fonts_dir: str | None,
    card: Any = None,
) -> Any:
    """The output's picture; ``card`` is its end card stream (``_card_streams``), if any."""
    stream = get_strategy(out.strategy)(stream, out).filter("setsar", 1)
    if out.fps != job.fps:
        stream = stream.filter("fps", fps=rate(out.fps))
    content = out.content_duration
    frames = round(content * out.fps)
    if content < job.duration or out.fps != job.fps:
        stream = stream.filter("trim", end_frame=frames)
    if subtitles is not None:
        # At the output's own size: libass lays text out in the output's pixels, so nothing
        # scales it afterwards, and the cue times are already output times. Before the end
        # card, so no cue can spill onto it.
        stream = burn_filter(stream, subtitles, fonts_dir or "")
    stream = stream.filter("format", "yuv420p")
    if card is None:
        return stream
    return ffmpeg.concat(stream, card, v=1, a=0)


def _card_streams(outputs: Sequence[OutputJob], files: Sequence[str | None]) -> list[Any]:
    """Per output, its end card as a stream (None without one). Outputs that want the same
    card at the same size and rate (Reels' and Facebook's 1080x1920) get one chain and a split:
    ffmpeg-python merges identical chains into one node, which cannot feed two filters."""
    keys: list[tuple[Any, ...] | None] = []
    for out, path in zip(outputs, files, strict=True):
        card = out.end_card
        keys.append(
            None if card is None or path is None else (path, card, out.width, out.height, out.fps)
        )
    streams: list[Any] = [None] * len(outputs)
    for key in dict.fromkeys(k for k in keys if k is not None):
        users = [i for i, k in enumerate(keys) if k == key]
        chain = _card_video(key[0], outputs[users[0]])
        if len(users) == 1:
            streams[users[0]] = chain
        else:
            node = chain.split()
            for n, i in enumerate(users):
                streams[i] = node[n]
    return streams


def _card_video(path: str, out: OutputJob) -> Any:
    """The end card file (``pipeline.endcard``, 30 fps at 1080 on the short side) as exactly
    the card's whole frames at the output's size and rate."""
    assert out.end_card is not None
    r = rate(out.fps)
    frames = round(out.end_card.seconds * out.fps)
    return (
        ffmpeg.input(f"file:{path}")["v:0"]
        .filter("scale", out.width, out.height)
        .filter("setsar", 1)
        .filter("fps", fps=r)
        .filter("format", "yuv420p")
        # The card's last frame held: at 24000/1001 fps a 3 s card rounds to 72 frames,
        # 3.003 s, a frame more than the 30 fps file holds.
        .filter("tpad", stop_mode="clone", stop=math.ceil(out.fps))
        .filter("trim", end_frame=frames)
        # as in _joined: round(), or floating point gives a frame its neighbour's time
        .filter("setpts", f"round(N/({r})/TB)")
    )


def audio_shape(out: OutputJob, cut_end: int, audio_rate: int) -> tuple[int, int]:
    """(end, fade): the output carries the cut's samples ``AAC_PRIMING`` to ``end`` (see
    ``AAC_PRIMING``); with an end card, the last ``fade`` of them fade out to end exactly
    where the picture cuts to the card."""
    card = out.end_card
    if card is None:
        return min(cut_end, round(out.duration * audio_rate)), 0
    end = min(cut_end, round(out.content_duration * audio_rate))
    return end, max(0, min(round(card.audio_fade * audio_rate), end - AAC_PRIMING))


def _shaped(stream: Any, end: int, fade: int) -> Any:
    # No asetpts after this trim: the first sample keeps pts 1024, the encoder's output then
    # starts at pts 0, and the muxer needs no edit list to place it.
    stream = stream.filter("atrim", start_sample=AAC_PRIMING, end_sample=end)
    if fade > 0:
        # afade counts samples by timestamp, and the kept pts are the cut's sample numbers
        stream = stream.filter("afade", t="out", start_sample=end - fade, nb_samples=fade)
    return stream


# pipeline.loudness's limiter. Look-ahead 5 ms catches a plosive's attack; release 50 ms
# recovers before the next syllable: on a GRID clip needing 2.2 dB of limiting, longer
# releases took more loudness (50 ms: -0.16 LU, 200 ms: -0.46 LU) for no better peak
# control. 4x oversampling of 48 kHz, as BS.1770-4's true-peak meter does.
LIMITER_ATTACK_MS = 5.0
LIMITER_RELEASE_MS = 50.0
LIMITER_RATE = 192000


def _levelled(stream: Any, level: dict[str, Any], audio_rate: int) -> Any:
    """Pass 2 of ``pipeline.loudness`` on an output's shaped sound: loudnorm's linear gain,
    or a gain and a true-peak limiter; back at the output's rate either way (loudnorm works
    at 192 kHz and outputs at that rate), with the shaped sound's timestamps."""
    if "loudnorm" in level:
        stream = stream.filter("loudnorm", **level["loudnorm"])
    else:
        stream = (
            stream.filter("volume", volume=f"{level['gain_db']:g}dB", precision="double")
            .filter("aresample", LIMITER_RATE)
            .filter(
                "alimiter",
                limit=round(10 ** (level["ceiling_dbtp"] / 20), 6),
                attack=LIMITER_ATTACK_MS,
                release=LIMITER_RELEASE_MS,
                # no make-up gain: the gain is set above; latency=true keeps sound on picture
                level="false",
                latency="true",
            )
        )
    return (
        stream.filter("aresample", audio_rate)
        # the first sample at pts AAC_PRIMING again, as _shaped left it (no edit list)
        .filter("asetpts", f"round((N+{AAC_PRIMING})/{audio_rate}/TB)")
    )


def _audio_for(
    stream: Any, out: OutputJob, cut_end: int, audio_rate: int, level: dict[str, Any] | None
) -> Any:
    """The output's sound from the cut's: shaped (``audio_shape``), normalised as ``level``
    says, then silence to the output's end (the card's length, or the few samples a
    resampler's flush can leave out)."""
    end, fade = audio_shape(out, cut_end, audio_rate)
    stream = _shaped(stream, end, fade)
    if level is not None:
        stream = _levelled(stream, level, audio_rate)
    elif out.end_card is None:
        return stream
    # atrim counts the samples it is given, which start AAC_PRIMING into the cut
    return stream.filter("apad").filter(
        "atrim", end_sample=round(out.duration * audio_rate) - AAC_PRIMING
    )


def _split(stream: Any, n: int) -> list[Any]:
    if n == 1:
        return [stream]
    node = stream.filter_multi_output("asplit", n)
    return [node[i] for i in range(n)]


def _output_audio(
    audio: Any,
    outputs: Sequence[OutputJob],
    levels: Sequence[dict[str, Any] | None],
    cut_end: int,
    audio_rate: int,
) -> list[Any]:
    """Per output, its sound; outputs whose sound is the same (same shape, same level) share
    one chain: ffmpeg-python merges identical chains into one node, which cannot feed two
    encoders."""
    keys = [
        (audio_shape(o, cut_end, audio_rate), round(o.duration * audio_rate), _options_key(lv))
        for o, lv in zip(outputs, levels, strict=True)
    ]
    groups = list(dict.fromkeys(keys))
    sources = _split(audio, len(groups))
    streams: list[Any] = [None] * len(outputs)
    for g, key in enumerate(groups):
        users = [i for i, k in enumerate(keys) if k == key]
        first = users[0]
        chain = _audio_for(sources[g], outputs[first], cut_end, audio_rate, levels[first])
        for i, stream in zip(users, _split(chain, len(users)), strict=True):
            streams[i] = stream
    return streams


def _options_key(options: dict[str, Any] | None) -> str | None:
    return None if options is None else repr(sorted(options.items()))


def _audio_only(audio: Any) -> Any:
    """``audio`` with the video taken out of its concat: ffmpeg-python labels only the
    outputs in use, so a concat whose video goes nowhere gets its audio wired to the video
    pad. Rebuilding the concat from the same audio chains keeps them exactly as rendered,
    and the video is not decoded at all."""
    node = audio.node
    if getattr(node, "name", None) != "concat":
        return audio
    parts = [
        e.upstream_node.stream(label=e.upstream_label, selector=e.upstream_selector)
        for e in node.incoming_edges
    ]
    per_segment = 2  # _joined's concat interleaves one video and one audio per segment
    return ffmpeg.concat(*parts[1::per_segment], v=0, a=1)


def build_measure_argv(
    job: CutJob,
    audio_rate: int,
    shape: Any,
    target: Any,
    ffmpeg_exe: str,
    level: dict[str, Any] | None = None,
) -> list[str]:
    """A measuring pass of ``pipeline.loudness``: the cut's joined audio built exactly as the
    render builds it (same inputs, seeks and sample-exact trims), shaped as one output
    carries it (``shape``: a ``pipeline.loudness.Shape``), optionally levelled as pass 2
    would (``level``), into ``loudnorm``'s analysis only. ``target`` is a
    ``pipeline.loudness.Target``: loudnorm's suggested offset depends on it."""
    _, audio = _joined(job, audio_rate)
    stream = _shaped(_audio_only(audio), shape.end, shape.fade)
    if level is not None:
        stream = _levelled(stream, level, audio_rate)
    out = stream.filter(
        "loudnorm", I=target.i, TP=target.aim_tp, LRA=target.lra, print_format="json"
    ).output("-", f="null")
    # info, not warning: loudnorm prints its statistics at info level
    cmd = out.global_args("-hide_banner", "-nostdin", "-nostats", "-loglevel", "info")
    return [ffmpeg_exe, *cmd.get_args()]


def build_vmaf_argv(
    job: CutJob,
    out: OutputJob,
    rendered: str,
    ffmpeg_exe: str,
    subtitles: str | None = None,
    fonts_dir: str | None = None,
) -> list[str]:
    """VMAF of a rendered output's cut part against the same framing of the source, made by
    the render's own filters but never encoded (the end card is left out of both)."""
    video, _ = _joined(job, out.encode.audio_rate)
    reference = _video_for(video, job, out, subtitles, fonts_dir).filter("setpts", "PTS-STARTPTS")
    frames = round(out.content_duration * out.fps)
    distorted = (
        ffmpeg.input(f"file:{rendered}")["v:0"]
        .filter("trim", end_frame=frames)
        .filter("setpts", "PTS-STARTPTS")
        .filter("setsar", 1)
        .filter("format", "yuv420p")
    )
    # every 3rd frame: the pooled mean moves by well under 0.1 and it is 3x faster (bench)
    scored = ffmpeg.filter([distorted, reference], "libvmaf", n_threads=2, n_subsample=3)
    cmd = scored.output("-", f="null").global_args(
        "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info"
    )
    return [ffmpeg_exe, *cmd.get_args()]


def _encode_args(job: CutJob, out: OutputJob) -> dict[str, Any]:
    e = out.encode
    return {
        "c:v": "libx264",
        "preset": e.preset,
        "crf": e.crf,
        "profile:v": e.profile,
        "level:v": e.level,
        "maxrate": f"{e.maxrate_kbps}k",
        "bufsize": f"{e.bufsize_kbps}k",
        "g": e.keyint,
        "keyint_min": e.keyint,
        "sc_threshold": 0,  # fixed GOP: IDR frames exactly every keyint frames
        "bf": 2,
        "flags": "+cgop",
        "fps_mode": "cfr",
        "r": rate(out.fps),
        # BT.709, limited range: what ``_joined`` makes and tags (concat converts the end
        # card, untagged BT.601 from RGB, to its first input's matrix). FFmpeg's CLI would
        # convert frames of another matrix or range to these two, but writes the frames'
        # primaries and transfer whatever these two say.
        "colorspace": "bt709",
        "color_range": "tv",
        "color_primaries": "bt709",
        "color_trc": "bt709",
        "c:a": "aac",
        "b:a": f"{e.audio_kbps}k",
        "ar": e.audio_rate,
        "ac": e.audio_channels,
        # moov at the front for progressive playback; no edit lists (YouTube, Reels reject
        # them), with negative CTS offsets so B-frame delay needs none (AAC's encoder delay
        # needs none either: see AAC_PRIMING).
        "movflags": "+faststart+negative_cts_offsets",
        "use_editlist": 0,
        "map_metadata": -1,
        "map_chapters": -1,
        "metadata": f"comment={out.key}",
        "f": "mp4",
    }


def build_argv(
    job: CutJob,
    outputs: Sequence[OutputJob],
    targets: Sequence[str],
    ffmpeg_exe: str = "ffmpeg",
    subtitles: Sequence[str | None] | None = None,
    fonts_dir: str | None = None,
    cards: Sequence[str | None] | None = None,
    loudness: Sequence[dict[str, Any] | None] | None = None,
    threads: int | None = None,
) -> list[str]:
    """The exact argument list that renders ``outputs`` of ``job`` to ``targets`` (file paths,
    normally temporary names that the renderer renames when FFmpeg succeeds). ``subtitles``
    gives, per output, the ASS file to burn in (or None); ``fonts_dir`` is where libass finds
    the caption font, so no system font is ever used. ``cards`` gives, per output, the end
    card file from ``pipeline.endcard.ensure_card``: required for each output with an
    ``end_card``, None for the others. ``loudness`` gives, per output, pass 2's levelling
    (``pipeline.loudness.Level.graph_options``), or None to leave its sound as it is.
    ``threads``: the cores this FFmpeg may use when other renders share the machine
    (``pipeline.executors``); None leaves every thread count to FFmpeg and x264.

    x264 keeps its own thread count (1.5 per core) for every encoder: `make bench` tried one
    and two threads per encoder for four encoders on 2 cores. One thread saved 20% of FFmpeg's
    memory but made the whole render slower ((a)/(d) 1.07 -> 1.14): split feeds the four
    encoders in lockstep, so the largest output, on one thread, held the others back.
    """
    if len(outputs) != len(targets) or not outputs:
        raise ValueError("one target path per output, at least one output")
    card_files = list(cards) if cards else [None] * len(outputs)
    if len(card_files) != len(outputs):
        raise ValueError("one card entry per output")
    for out, card in zip(outputs, card_files, strict=True):
        # A missing card would make a file shorter than the plan says; a stray one, longer.
        if (out.end_card is None) != (card is None):
            want = "an end card file" if out.end_card else "no end card file"
            raise ValueError(f"{out.path}: needs {want} (cards=)")
    audio_rate = outputs[0].encode.audio_rate
    bounds = sample_bounds(job, audio_rate)
    video, audio = _joined(job, audio_rate)
    n = len(outputs)
    if n == 1:
        vsplit = [video]
    else:
        vnode = video.split()
        vsplit = [vnode[i] for i in range(n)]
    levels = list(loudness) if loudness else [None] * n
    if len(levels) != n:
        raise ValueError("one loudness entry per output")
    asplit = _output_audio(audio, outputs, levels, bounds[-1], audio_rate)
    card_streams = _card_streams(outputs, card_files)
    streams = []
    for i, (out, target) in enumerate(zip(outputs, targets, strict=True)):
        subs = subtitles[i] if subtitles else None
        v = _video_for(vsplit[i], job, out, subs, fonts_dir, card_streams[i])
        a = asplit[i]
        streams.append(ffmpeg.output(v, a, f"file:{target}", **_encode_args(job, out)))
    cmd = ffmpeg.merge_outputs(*streams).global_args(
        "-y",
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "level+warning",
        "-progress",
        "pipe:1",
        "-nostats",
    )
    return [ffmpeg_exe, *_shared_threads(cmd.get_args(), threads)]


def _shared_threads(args: list[str], threads: int | None) -> list[str]:
    """``args`` with FFmpeg's own thread pools sized to ``threads``: the filter graph's
    (``-filter_threads``, ``-filter_complex_threads``) and each input's decoder (``-threads``
    before its ``-i``). x264 keeps its own (see ``build_argv``)."""
    if threads is None:
        return args
    n = str(threads)
    shared = ["-filter_threads", n, "-filter_complex_threads", n]
    for arg in args:
        if arg == "-i":
            shared += ["-threads", n]
        shared.append(arg)
    return shared


# Linux caps one argument at 128 KiB; an hour of tracking shots makes a longer filter graph.
GRAPH_INLINE_MAX = 64 * 1024


def graph_to_file(argv: list[str], path: str) -> tuple[list[str], str | None]:
    """``argv`` with a long ``-filter_complex`` replaced by ``-/filter_complex path`` (FFmpeg
    reads the option's value from the file), and the text to write there; short graphs
    stay inline (None)."""
    i = argv.index("-filter_complex")
    graph = argv[i + 1]
    if len(graph) <= GRAPH_INLINE_MAX:
        return argv, None
    return [*argv[:i], "-/filter_complex", path, *argv[i + 2 :]], graph
