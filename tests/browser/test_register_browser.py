"""The technology register in Chromium at a phone's width (390 px) and on a desktop: the
page fits the screen (no sideways scrolling, even with a model id and weights hash), the
ATRS record opens, and its JSON is linked."""

from __future__ import annotations

from typing import Any

import pytest
from platform_helpers import Staff, ok

WIDTHS = (390, 1280)
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"

ATRS = {"name": "Live facial recognition (pilot)",
        "summary": "Cameras compare faces passing a marked zone with a short watchlist; an "
                   "officer decides on every alert.",
        "organisation": "Example Police", "contact_email": "lfr@police.example",
        "supplier": "openlfr project", "human_decisions_and_review": "Every alert is checked.",
        "risks": [{"name": "False alerts", "description": "An innocent person stopped.",
                   "mitigation": "Threshold at or above the audited fair threshold."}]}


@pytest.mark.parametrize("width", WIDTHS)
def test_register_fits_the_screen_and_opens_its_record(
        page: Any, staff: Staff, live_url: str, width: int) -> None:
    ok(staff["admin"].post("/api/technology/running-engine"), 201)
    ok(staff["admin"].post("/api/technology", json={
        "algorithm": "UltraLight detector; MobileFaceNet ArcFace 512-D descriptor; fused per "
                     "track; score: how far the best subject stands out",
        "model_version": "mobilefacenet_arcface_512:0123456789abcdef0123456789abcdef",
        "vendor_or_project": "openlfr", "default_threshold": 0.5, "atrs": ATRS}), 201)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_url}/register")
    assert page.locator("[data-test=technology]").count() == 2
    assert page.evaluate(OVERFLOW) <= 0, f"the register is wider than {width} px"
    assert page.locator("[data-test=no-equity-audit]").count() == 2
    detail = page.locator("[data-test=atrs-detail]").nth(1)
    detail.locator("summary").click()
    assert detail.locator("text=Every alert is checked.").is_visible()
    assert page.evaluate(OVERFLOW) <= 0, f"the opened record is wider than {width} px"
    href = detail.locator("[data-test=atrs-json]").get_attribute("href")
    record = page.request.get(f"{live_url}{href}").json()
    assert record["tier_1"]["name"] == ATRS["name"]
