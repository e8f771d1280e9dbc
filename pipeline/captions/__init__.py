"""Captions: read sidecar files into one cue model, retime them through each cut, reflow
them for each output's frame, lint them, and write sidecars and burn-in subtitles."""
