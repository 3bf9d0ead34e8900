"""Errors the engine raises. Each message says what went wrong and what to do."""


class RecognitionError(Exception):
    """Base class: a problem the caller can act on (bad input, missing model, ...)."""


class SourceError(RecognitionError):
    """A video source cannot be opened or read."""


class ModelError(RecognitionError):
    """A model file is missing or unreadable."""


class WatchlistError(RecognitionError):
    """A watchlist file or folder is missing, malformed, empty or from another model."""
