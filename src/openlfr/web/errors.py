"""Turns the domain's errors into HTTP responses with messages a user can act on."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from openlfr.governance.errors import (
    Conflict,
    GatesFailed,
    GovernanceError,
    InvalidInput,
    NotFound,
)
from openlfr.services.platform import PermissionDenied, TooManyAttempts
from openlfr.services.users import LoginFailed


def _gates_failed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GatesFailed)
    return JSONResponse(status_code=409, content={
        "detail": str(exc),
        "failing_gates": [{"name": g.name, "passed": g.passed, "reason": g.reason,
                           "override_refusal": g.override_refusal} for g in exc.failing],
    })


def _invalid_input(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidInput)
    # The same shape as FastAPI's own validation errors, so clients handle one format.
    loc = ["body", *exc.field.split(".")]
    return JSONResponse(status_code=422, content={
        "detail": [{"loc": loc, "msg": exc.message, "type": "value_error"}]})


def _status_for(exc: GovernanceError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, LoginFailed):
        return 401
    if isinstance(exc, TooManyAttempts):
        return 429
    if isinstance(exc, Conflict):
        return 409
    return 400


def _governance_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GovernanceError)
    return JSONResponse(status_code=_status_for(exc), content={"detail": str(exc)})


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers; the most specific classes first."""
    app.add_exception_handler(GatesFailed, _gates_failed)
    app.add_exception_handler(InvalidInput, _invalid_input)
    app.add_exception_handler(GovernanceError, _governance_error)
