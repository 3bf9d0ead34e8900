"""Turns the domain's errors into HTTP responses with messages a user can act on."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from openlfr.governance.errors import (
    Conflict,
    GatesFailed,
    GovernanceError,
    InvalidInput,
    NotFound,
)
from openlfr.services.group_commit import WriteNotAnswered
from openlfr.services.platform import PermissionDenied
from openlfr.services.rate_limits import TooManyRequests
from openlfr.services.users import LoginFailed, UnknownApiKey
from openlfr.web.threads import PasswordChecksBusy


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
    if isinstance(exc, LoginFailed | UnknownApiKey):
        return 401
    if isinstance(exc, TooManyRequests):
        return 429
    if isinstance(exc, Conflict):
        return 409
    return 400


def _governance_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GovernanceError)
    return JSONResponse(status_code=_status_for(exc), content={"detail": str(exc)})


def _write_not_answered(request: Request, exc: Exception) -> JSONResponse:
    """A node write that was not acknowledged: nothing acknowledged was lost, and the node
    sends it again (a 5xx is what its outbox retries)."""
    return JSONResponse(status_code=503, content={"detail": str(exc)},
                        headers={"Retry-After": "1"})


#: PostgreSQL's codes for a transaction it ended so that another could go on (a deadlock,
#: a serialisation failure): nothing of it was written, and it can be sent again.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


def _database_conflict(request: Request, exc: Exception) -> JSONResponse:
    """A request the database ended because it crossed another (503, Retry-After: nothing
    was written); any other database failure stays a server error."""
    assert isinstance(exc, OperationalError)
    if getattr(exc.orig, "sqlstate", None) not in RETRYABLE_SQLSTATES:
        raise exc
    return JSONResponse(status_code=503, headers={"Retry-After": "1"}, content={
        "detail": "this request crossed another one changing the same records and nothing "
                  "of it was saved; send it again"})


def _password_checks_busy(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PasswordChecksBusy)
    return JSONResponse(status_code=exc.status_code, content={"detail": str(exc)},
                        headers={"Retry-After": str(exc.retry_after_s)})


def _printable(value: Any) -> str | int:
    """A location part as JSON can always carry it (a dict key sent by a client may hold
    a lone surrogate)."""
    if isinstance(value, int):
        return value
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


def _request_invalid(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 without the echo of the input: a value a client sent (NaN, a lone
    surrogate) may not be encodable as JSON, and a message never needs to repeat it."""
    assert isinstance(exc, RequestValidationError)
    detail = [{"loc": [_printable(part) for part in error.get("loc", ())],
               "msg": _printable(error.get("msg", "invalid value")),
               "type": _printable(error.get("type", "value_error"))}
              for error in exc.errors()]
    return JSONResponse(status_code=422, content={"detail": detail})


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers; the most specific classes first."""
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(GatesFailed, _gates_failed)
    app.add_exception_handler(InvalidInput, _invalid_input)
    app.add_exception_handler(GovernanceError, _governance_error)
    app.add_exception_handler(WriteNotAnswered, _write_not_answered)
    app.add_exception_handler(OperationalError, _database_conflict)
    app.add_exception_handler(PasswordChecksBusy, _password_checks_busy)
