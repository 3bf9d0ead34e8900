"""openlfr: live facial recognition with community accountability built in."""

__version__ = "0.1.0"
