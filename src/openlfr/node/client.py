"""The platform's engine-node API, as the node calls it (HTTP with httpx, X-API-Key).

Two kinds of failure, because the node treats them differently:

* ``PlatformUnreachable``: no answer, a timeout or a 5xx. Nothing was refused; the node
  keeps the item and tries again later (with back-off).
* ``PlatformRefused``: a 4xx. The platform understood and said no; the message is its own
  ``detail``. A 409 means the deployment may not take this (it ended, or never ran).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

API_KEY_HEADER = "X-API-Key"


#: The most items of one kind the platform takes in one batch request.
BATCH_ITEMS = 200


class PlatformUnreachable(Exception):
    """No usable answer (network, timeout, 5xx): try again later."""


class PlatformRefused(Exception):
    """The platform answered 4xx; ``detail`` is its reason."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(f"the platform refused ({status_code}): {detail}")
        self.status_code = status_code
        self.detail = detail

    @property
    def not_accepted_now(self) -> bool:
        """409: the deployment does not accept this (not active, ended, late delivery
        closed, or another deployment's key). Retrying will not change it."""
        return self.status_code == 409


@dataclass(frozen=True)
class DeploymentStatus:
    """The platform's answer to "may I run?" for one deployment."""

    deployment_id: int
    reference: str
    status: str
    start_at: datetime
    end_at: datetime
    threshold: float
    may_run: bool
    reason: str | None
    late_delivery_until: datetime | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeploymentStatus:
        late = data.get("late_delivery_until")
        return cls(
            deployment_id=int(data["deployment_id"]), reference=str(data["reference"]),
            status=str(data["status"]), start_at=datetime.fromisoformat(data["start_at"]),
            end_at=datetime.fromisoformat(data["end_at"]), threshold=float(data["threshold"]),
            may_run=bool(data["may_run"]), reason=data.get("reason"),
            late_delivery_until=datetime.fromisoformat(late) if late else None)


def api_root(platform_url: str) -> str:
    """The API's root from the platform's address (``https://host`` or ``.../api``)."""
    root = platform_url.rstrip("/")
    return root if root.endswith("/api") else f"{root}/api"


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return response.text[:300] or response.reason_phrase
    if isinstance(detail, list):  # validation errors: where and what
        return "; ".join(f"{'.'.join(str(x) for x in e.get('loc', []))}: {e.get('msg')}"
                         for e in detail if isinstance(e, dict))
    return str(detail)


class PlatformClient:
    """One connection pool to the platform; use one per thread."""

    def __init__(self, platform_url: str, api_key: str, *, timeout_s: float = 10.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.platform_url = platform_url
        self.api_root = api_root(platform_url)
        """The API's address, written one way (outbox items are kept per platform by it)."""
        self._http = httpx.Client(base_url=self.api_root, timeout=timeout_s,
                                  headers={API_KEY_HEADER: api_key}, transport=transport)

    def _call(self, method: str, path: str, json: dict[str, Any] | None = None) -> Any:
        try:
            response = self._http.request(method, path, json=json)
        except httpx.HTTPError as exc:
            raise PlatformUnreachable(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc
        if response.status_code >= 500:
            raise PlatformUnreachable(f"the platform answered {response.status_code}")
        if response.status_code >= 400:
            raise PlatformRefused(response.status_code, _detail(response))
        return response.json() if response.content else None

    def deployment(self, deployment_id: int) -> DeploymentStatus:
        return DeploymentStatus.from_json(self._call("GET", f"/node/deployments/{deployment_id}"))

    def deployment_by_reference(self, reference: str) -> DeploymentStatus:
        return DeploymentStatus.from_json(
            self._call("GET", f"/node/deployments/by-reference/{reference}"))

    def watchlist(self, deployment_id: int) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/node/deployments/{deployment_id}/watchlist")
        return result

    def send(self, deployment_id: int, kind: str, payload: dict[str, Any]) -> None:
        """Post an outbox item (``alert`` or ``counters``); returns when acknowledged."""
        route = {"alert": "alerts", "counters": "counters"}[kind]
        self._call("POST", f"/node/deployments/{deployment_id}/{route}", payload)

    def send_batch(self, deployment_id: int, items: list[tuple[str, dict[str, Any]]]) -> None:
        """Post several outbox items (kind, payload) in one request, recorded all or none
        (at most BATCH_ITEMS of each kind); returns when acknowledged."""
        body: dict[str, list[dict[str, Any]]] = {"alerts": [], "counters": []}
        for kind, payload in items:
            body[{"alert": "alerts", "counters": "counters"}[kind]].append(payload)
        self._call("POST", f"/node/deployments/{deployment_id}/batch", body)

    def report_dropped(self, deployment_id: int, payload: dict[str, Any]) -> None:
        self._call("POST", f"/node/deployments/{deployment_id}/watchlist-dropped", payload)

    def close(self) -> None:
        self._http.close()
