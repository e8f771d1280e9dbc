"""Speech in the source audio: align a plain transcript to it, or draft captions by
recognising it. Offline: PocketSphinx's wheel carries its English model."""
