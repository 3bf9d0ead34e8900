"""A request PostgreSQL ended because it crossed another (a deadlock, a serialisation
failure) is answered 503 with Retry-After, since nothing of it was written; any other
database failure stays a 500 (red team, round 13: a deadlock was a bare 500)."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from platform_helpers import Staff
from sqlalchemy.exc import OperationalError


class _DriverError(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__("from the driver")
        self.sqlstate = sqlstate


@pytest.mark.parametrize("sqlstate,status", [("40P01", 503), ("40001", 503), ("08006", 500),
                                             (None, 500)])
def test_a_crossed_transaction_is_sent_again(staff: Staff, sqlstate: str | None,
                                            status: int) -> None:
    def crossed() -> None:
        raise OperationalError("UPDATE users ...", {}, _DriverError(sqlstate))

    staff.app.router.routes.insert(0, APIRoute("/api/probe", crossed, methods=["POST"]))
    r = TestClient(staff.app, raise_server_exceptions=False).post("/api/probe")
    assert r.status_code == status
    if status == 503:
        assert r.headers["retry-after"] == "1" and "send it again" in r.json()["detail"]
