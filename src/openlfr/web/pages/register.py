"""The register page: the technology register (each engine setup with its last equity
audit) and council motions with the published responses."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openlfr.services import public_view
from openlfr.web.api.motions import motion_out
from openlfr.web.api.technology import register_out
from openlfr.web.pages.rendering import platform_of, render


def register_page(request: Request) -> Response:
    """The technology register and council motions, with their points and the force's
    answers."""
    p = platform_of(request)
    return render(request, "register.html", {
        "technologies": register_out(p),
        "motions": [motion_out(p, x) for x in public_view.public_motions(p)]})


PUBLIC_PATHS = ("/register",)

routes = [Route("/register", register_page, methods=["GET"], name="register")]
