"""The platform's engine-node API, as the node calls it (HTTP with httpx, X-API-Key).

Two kinds of failure, because the node treats them differently:

* ``PlatformUnreachable``: no usable answer: none, a timeout, a 5xx, a 429, a redirect, or
  a 2xx whose body is not the platform's (a proxy's or captive portal's HTML page, a
  truncated body, JSON without the keys it must have; for an alert or counter batch, any
  answer but the platform's receipt naming it: an empty 200, a 204, ``{"status": "ok"}``).
  Nothing was acknowledged; the node keeps the item and tries again later (with back-off).
* ``PlatformRefused``: a 4xx. The platform understood and said no; the message is its own
  ``detail``. A 409 means the deployment may not take this (it ended, or never ran); a
  400, 409, 413 or 422 is about the item itself (``item_refused``), any other (401, 403,
  404: the key or the deployment) about every item.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

API_KEY_HEADER = "X-API-Key"


#: The most items of one kind the platform takes in one batch request.
BATCH_ITEMS = 200
#: Refusals of one item for what it holds (invalid, too large, outside the deployment's
#: time): the same item would be refused again, but the items behind it may well be taken.
ITEM_REFUSALS = frozenset({400, 409, 413, 422})
#: 4xx answers that mean "not now", not "no": retried like an outage.
RETRY_LATER = frozenset({408, 425, 429})


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

    @property
    def item_refused(self) -> bool:
        """The refusal is about this item (``ITEM_REFUSALS``): set it aside and go on with
        the others. Otherwise (revoked key, unknown deployment) no item can be sent."""
        return self.status_code in ITEM_REFUSALS


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
    def from_json(cls, data: Any) -> DeploymentStatus:
        """The status from the platform's answer; ``PlatformUnreachable`` when the answer is
        not one (a 2xx from something else than the platform: try again later)."""
        try:
            late = data.get("late_delivery_until")
            if not 0.0 <= float(data["threshold"]) <= 1.0:  # a score's, as the engine's
                raise ValueError(f"threshold {data['threshold']} is not between 0 and 1")
            return cls(
                deployment_id=int(data["deployment_id"]), reference=str(data["reference"]),
                status=str(data["status"]), start_at=_aware(data["start_at"]),
                end_at=_aware(data["end_at"]), threshold=float(data["threshold"]),
                may_run=bool(data["may_run"]), reason=data.get("reason"),
                late_delivery_until=_aware(late) if late else None)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise PlatformUnreachable(
                f"the platform's answer is not a deployment's status ({type(exc).__name__}: "
                f"{exc}); a proxy or another service may have answered") from None


def _aware(value: str) -> datetime:
    """A time the platform sent (UTC when it carries no offset, so that it compares with
    the node's clock)."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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


#: The platform's route (and the batch's key) for each kind of outbox item.
_ROUTES = {"alert": "alerts", "counters": "counters"}
#: What names an item of each kind, in what the node sends and in the platform's receipt
#: (the alert as recorded; a counter batch's ``{"batch_id", "counted"}``).
_UID_KEYS = {"alert": "alert_uid", "counters": "batch_id"}


def _acknowledges(kind: str, payload: dict[str, Any], receipt: Any) -> bool:
    """Whether ``receipt`` is the platform's for this item: it names the item's id (a
    counter batch's also says whether it was ``counted``)."""
    uid = payload.get(_UID_KEYS[kind])
    if not isinstance(receipt, dict) or not isinstance(uid, str):
        return False
    if kind == "counters" and not isinstance(receipt.get("counted"), bool):
        return False
    return receipt.get(_UID_KEYS[kind]) == uid


def _not_a_receipt(kind: str, answer: Any) -> PlatformUnreachable:
    """A 2xx that does not acknowledge what was sent (empty, a 204, another service's
    JSON): nothing is known to be recorded, so the item is kept and sent again (the
    platform records a retry once)."""
    shown = "no body" if answer is None else repr(answer)[:80]
    return PlatformUnreachable(
        f"the platform's answer to the {kind} is not its receipt ({shown}); a proxy or "
        "another service may have answered")


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
        status = response.status_code
        if status >= 500 or status in RETRY_LATER:
            raise PlatformUnreachable(f"the platform answered {status}")
        if status >= 400:
            raise PlatformRefused(status, _detail(response))
        if not 200 <= status < 300:  # a redirect (a captive portal's): nothing was recorded
            raise PlatformUnreachable(f"the platform answered {status} "
                                      f"{response.headers.get('location', '')}".rstrip())
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:  # HTML from a proxy or captive portal, or a truncated body
            kind = response.headers.get("content-type", "no content type")
            raise PlatformUnreachable(
                f"the platform answered {status} with a body that is not JSON ({kind}: "
                f"{response.text[:80]!r}); a proxy or captive portal may be in the way"
            ) from None

    def deployment(self, deployment_id: int) -> DeploymentStatus:
        return DeploymentStatus.from_json(self._call("GET", f"/node/deployments/{deployment_id}"))

    def deployment_by_reference(self, reference: str) -> DeploymentStatus:
        return DeploymentStatus.from_json(
            self._call("GET", f"/node/deployments/by-reference/{reference}"))

    def watchlist(self, deployment_id: int) -> dict[str, Any]:
        result = self._call("GET", f"/node/deployments/{deployment_id}/watchlist")
        if not isinstance(result, dict):
            raise PlatformUnreachable("the platform's answer is not a watchlist; a proxy or "
                                      "another service may have answered")
        return result

    def send(self, deployment_id: int, kind: str, payload: dict[str, Any]) -> None:
        """Post an outbox item (``alert`` or ``counters``); returns when the platform's
        receipt names it (``PlatformUnreachable`` for any other answer: keep the item)."""
        route = _ROUTES[kind]
        answer = self._call("POST", f"/node/deployments/{deployment_id}/{route}", payload)
        if not _acknowledges(kind, payload, answer):
            raise _not_a_receipt(kind, answer)

    def send_batch(self, deployment_id: int, items: list[tuple[str, dict[str, Any]]]) -> None:
        """Post several outbox items (kind, payload) in one request, recorded all or none
        (at most BATCH_ITEMS of each kind); returns when the platform's receipt names each
        of them, in order (``PlatformUnreachable`` for any other answer)."""
        body: dict[str, list[dict[str, Any]]] = {"alerts": [], "counters": []}
        for kind, payload in items:
            body[_ROUTES[kind]].append(payload)
        answer = self._call("POST", f"/node/deployments/{deployment_id}/batch", body)
        for kind, route in _ROUTES.items():
            receipts = answer.get(route) if isinstance(answer, dict) else None
            if not isinstance(receipts, list) or len(receipts) != len(body[route]) or not all(
                    _acknowledges(kind, p, r) for p, r in zip(body[route], receipts,
                                                               strict=True)):
                raise _not_a_receipt("batch", answer)

    def report_dropped(self, deployment_id: int, payload: dict[str, Any]) -> None:
        self._call("POST", f"/node/deployments/{deployment_id}/watchlist-dropped", payload)

    def close(self) -> None:
        self._http.close()
