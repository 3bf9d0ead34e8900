"""(placeholder: being built)"""

from __future__ import annotations

from starlette.routing import BaseRoute

PUBLIC_PATHS: tuple[str, ...] = ()
STAFF_PATHS: tuple[str, ...] = ()
routes: list[BaseRoute] = []
