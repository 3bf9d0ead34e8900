"""Helpers for the staff page tests: post a page's form the way a browser would (with the
CSRF token the page carried), and read what a page says about a field."""

from __future__ import annotations

import html
import re
from typing import Any

from portal_helpers import csrf_from


def submit(client: Any, page: str, action: str, data: dict[str, Any],
           follow: bool = False) -> Any:
    """GET ``page``, take its CSRF token, POST ``data`` to ``action``."""
    shown = client.get(page)
    assert shown.status_code == 200, (page, shown.status_code)
    return client.post(action, data={"csrf_token": csrf_from(shown.text), **data},
                       follow_redirects=follow)


def field_error(page_html: str, field: str) -> str | None:
    """The error shown next to ``field`` (or for the whole form: "form"), if any,
    lower-cased for matching."""
    match = re.search(r'data-test="error" data-field="' + re.escape(field) + r'">(.*?)</',
                      page_html, re.S)
    return html.unescape(match.group(1)).strip().lower() if match else None


def errors_on(page_html: str) -> list[str]:
    """The fields that have an error shown next to them."""
    return re.findall(r'data-test="error" data-field="([^"]+)"', page_html)


def redirected_to(response: Any, path: str) -> bool:
    """A 303 to ``path`` (the query string, e.g. ?done=..., aside)."""
    location = response.headers.get("location", "")
    return response.status_code == 303 and location.split("?")[0].endswith(path)
