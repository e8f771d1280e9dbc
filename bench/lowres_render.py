"""Render a long source at low resolution through the real pipeline CLI, for the memory row.

Platform profiles are a registry; this registers one small bench profile (160x90 and
90x160, no duration cap) in the parent process before handing over to the CLI. Workers
need no profile: every job carries its own sizes and settings.
Usage: python lowres_render.py MANIFEST_DIR
"""

from __future__ import annotations

import sys
from dataclasses import replace

from pipeline import profiles
from pipeline.cli import main

profiles.PROFILES["bench_lowres"] = replace(
    profiles.PROFILES["web"],
    name="bench_lowres",
    label="Bench low resolution",
    sizes={"16:9": profiles.Sized(160, 90), "9:16": profiles.Sized(90, 160)},
    max_duration=None,
)

if __name__ == "__main__":
    sys.exit(main(["-q", "-m", sys.argv[1], *(sys.argv[2:] or ["render", "-j", "1"])]))
