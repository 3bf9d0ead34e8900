"""Helpers for the browser tests (a module of its own: several test folders have a
conftest.py, so importing from "conftest" would find the wrong one)."""

from __future__ import annotations

from typing import Any


def log_in(page: Any, base_url: str, username: str, password: str) -> None:
    """Log in through the staff login form."""
    page.goto(f"{base_url}/staff/login")
    page.fill("[data-test=username]", username)
    page.fill("[data-test=password]", password)
    page.click("[data-test=login-submit]")
