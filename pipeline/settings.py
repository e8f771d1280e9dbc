"""One home for every default, and the one function that layers them.

Order, lowest first: pipeline defaults -> platform profile -> campaign -> case study -> output.
The platform profile fixes what a platform dictates (sizes, rates, GOP); the other layers
choose what is a matter of taste (strategy, focus point, encoder speed and quality).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pipeline.manifest import Settings
from pipeline.profiles import PlatformProfile


@dataclass(frozen=True)
class Resolved:
    strategy: str
    focus: tuple[float, float] | None  # None: let the reframer choose (centre if it cannot)
    preset: str
    crf: int
    burn_captions: bool
    caption_language: str | None
    end_card: bool
    # dictated by the platform profile, not overridable from a manifest
    profile: str
    level: str
    audio_kbps: int
    audio_rate: int
    audio_channels: int


PIPELINE_DEFAULTS = Resolved(
    strategy="auto",
    focus=None,
    # x264's own default; each platform profile chooses its own (profiles.PRESET_CHOICE)
    preset="medium",
    crf=21,
    burn_captions=False,
    caption_language=None,
    end_card=False,
    profile="high",
    level="4.1",
    audio_kbps=128,
    audio_rate=48000,
    audio_channels=2,
)


def _apply(base: Resolved, layer: Settings | None) -> Resolved:
    if layer is None:
        return base
    out = base
    if layer.strategy is not None:
        out = replace(out, strategy=layer.strategy)
    if layer.focus is not None:
        out = replace(out, focus=(layer.focus.x, layer.focus.y))
    if layer.burn_captions is not None:
        out = replace(out, burn_captions=layer.burn_captions)
    if layer.caption_language is not None:
        out = replace(out, caption_language=layer.caption_language)
    if layer.end_card is not None:
        out = replace(out, end_card=layer.end_card)
    if layer.encoder is not None:
        if layer.encoder.preset is not None:
            out = replace(out, preset=layer.encoder.preset)
        if layer.encoder.crf is not None:
            out = replace(out, crf=layer.encoder.crf)
    return out


def resolve(
    profile: PlatformProfile,
    campaign: Settings | None,
    case_study: Settings | None,
    output: Settings | None,
) -> Resolved:
    """Merge the layers for one output. Later layers win; unset fields fall through."""
    base = replace(
        PIPELINE_DEFAULTS,
        preset=profile.preset,
        burn_captions=profile.burn_captions,
        end_card=profile.end_card,
        profile=profile.h264_profile,
        level=profile.h264_level,
        audio_kbps=profile.audio_kbps,
        audio_rate=profile.audio_rate,
        audio_channels=profile.audio_channels,
    )
    for layer in (campaign, case_study, output):
        base = _apply(base, layer)
    return base
