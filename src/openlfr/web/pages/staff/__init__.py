"""Staff pages: role-checked, server-rendered, working without JavaScript. One module per
area; every action goes through the same service function (and input schema) as the
API, and a refusal is shown on the form it came from, next to the field, with what was
typed kept.

* ``home``: deployments by status with the next action for the role, feedback awaiting
  an answer.
* ``deployments``: draft and edit the plan; the overview; propose, publish notice,
  complete, review, cancel.
* ``assessment``: the community impact assessment editor and its completeness check.
* ``engagement``: the engagement log and who it reached.
* ``feedback``: the feedback inbox: answer, and moderate for abuse only.
* ``authorising``: the gate checklist; authorise, override, activate.
* ``oversight``: formal comments and council motions with their responses.
* ``arrests``: what followed each arrest after an alert.
* ``admin``: people and roles, API keys, the technology register, settings, audit log.
"""

from __future__ import annotations

from types import ModuleType

from starlette.routing import BaseRoute

from openlfr.web.pages.staff import (
    admin,
    arrests,
    assessment,
    authorising,
    deployments,
    engagement,
    feedback,
    home,
    oversight,
)

_MODULES: tuple[ModuleType, ...] = (home, deployments, assessment, engagement, feedback,
                                     authorising, oversight, arrests, admin)

PUBLIC_PATHS: tuple[str, ...] = ()
routes: list[BaseRoute] = [route for module in _MODULES for route in module.routes]
