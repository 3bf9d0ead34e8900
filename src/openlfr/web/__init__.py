"""The web side: the JSON API (``api/``), later the HTML pages (``pages/``)."""

from openlfr.web.app import create_app

__all__ = ["create_app"]
