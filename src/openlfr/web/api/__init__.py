"""The JSON API, one router per resource. Mounted under /api by openlfr.web.app."""

from typing import Any

from openlfr.web.schemas import GateRefusal, Problem

#: Documented error responses shared by routes (the body says what to do next).
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Not logged in, or the API key is invalid."},
    403: {"model": Problem, "description": "Your role may not do this."},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such record."}}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": Problem, "description": "Not possible in the current state; see detail."}}
GATE_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": GateRefusal, "description": "Refused: failing gates and their reasons, or "
          "the transition is not possible from the current status."}}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": Problem, "description": "Not acknowledged (busy, stopping, or the "
          "transaction failed): send it again after Retry-After seconds."}}
