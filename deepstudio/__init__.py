"""DeepStudio: a desktop editor for consenting, disclosed synthetic media."""

__version__ = "0.1.0"
