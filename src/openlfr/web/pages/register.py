"""The register page: the technology register (each engine setup's ATRS record, its last
equity audit and its versions) and council motions with the published responses."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from openlfr.governance.records import AuditedRates
from openlfr.services import atrs, public_view, technology
from openlfr.storage import models as m
from openlfr.web.api.motions import motion_out
from openlfr.web.pages.rendering import PageRoute, platform_of, render


@dataclass(frozen=True)
class RegisterView:
    """A register entry as the page shows it: its ATRS fields read into their model."""

    technology: m.Technology
    fields: atrs.AtrsFields
    audits: list[m.EquityAudit]
    latest_audit: m.EquityAudit | None
    versions: list[m.TechnologyVersion]
    #: The latest audit's false-alert rates at the default threshold, per watchlist size.
    false_alerts: list[AuditedRates]


def register_page(request: Request) -> Response:
    """The technology register and council motions, with their points and the force's
    answers."""
    p = platform_of(request)
    return render(request, "register.html", {
        "entries": [RegisterView(e.technology, atrs.fields_of(e.technology.atrs), e.audits,
                                 e.latest_audit, e.versions, e.false_alerts_at_default())
                    for e in technology.register_entries(p)],
        "sections": atrs.SECTIONS, "max_audit_fpir": p.settings.max_audit_fpir,
        "motions": [motion_out(p, x) for x in public_view.public_motions(p)]})


PUBLIC_PATHS = ("/register",)

routes = [PageRoute("/register", register_page, methods=["GET"], name="register")]
