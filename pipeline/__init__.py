"""Case-study media pipeline: manifest -> plan -> render -> verify -> publish -> index."""

__version__ = "0.2.0"
