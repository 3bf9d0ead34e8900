"""Recording an evaluation with the platform, which uses its fair threshold as the floor
of the threshold gate and shows it on the technology register.

The platform's endpoint is ``POST /api/technology/{id}/equity-audits`` (body: the
platform's EquityAuditIn), authenticated with the ``X-API-Key`` header. Besides the
per-group results it takes the overall ``identification`` rows (TPIR and FPIR with the
FPIR's interval, per watchlist size and threshold), which its threshold gate holds
against the policy's maximum FPIR at a deployment's watchlist size and threshold. ``--register``
takes the technology register entry's URL (``https://host/api/technology/3``) or the
equity-audits URL itself. The entry must be one of the model the evaluation measured
(``model_id``, from results.json's ``engine.model_id``): the platform refuses an audit of
another network with 422, since its threshold gate reads an entry's audits as
measurements of the entry's model. The platform also refuses an audit that contradicts
itself (EquityAuditIn), which an evaluation's own results never do.

The endpoint admits oversight members and audit tools' keys, which oversight issues
(``POST /api/oversight/audit-keys {"name": "audit-cli"}``); the force's admin, whose
deployments the threshold gate holds to these audits, is refused, and so is an engine
node's key: 403, which this client reports in one clear line.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import httpx

from openlfr.evaluation.duplicates import found_sentence
from openlfr.evaluation.errors import RegistrationError

API_KEY_HEADER = "X-API-Key"
MAX_GROUP_RESULTS = 5000
#: The platform takes at most this many identification rows (EquityAuditIn).
MAX_IDENTIFICATION_ROWS = 5000
_ENTRY = re.compile(r"^(?P<base>.*?/technology/\d+)(?P<tail>/equity-audits)?/?$")


def audits_url(url: str) -> str:
    """The equity-audits endpoint for a technology register entry URL."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise RegistrationError(
            f"--register {url!r}: not an http(s) URL; give the technology register entry, "
            "e.g. https://platform.example/api/technology/3"
        )
    match = _ENTRY.match(parts.path)
    if not match:
        raise RegistrationError(
            f"--register {url!r}: give the technology register entry the audit is for, "
            "e.g. https://platform.example/api/technology/3 (see GET /api/technology)"
        )
    return f"{parts.scheme}://{parts.netloc}{match.group('base')}/equity-audits"


def _holding(interval: list[float | None], rate: float) -> tuple[float | None, float | None]:
    """An interval that holds its rate: the platform refuses one that misses it, and a
    Wilson end a rounding error past the rate (at 0 false alerts) is the rate itself."""
    low, high = interval
    return (None if low is None else min(low, rate), None if high is None else max(high, rate))


def identification_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """EquityAuditIn's ``identification``: the overall row of every watchlist size and
    threshold evaluated (all groups together), as the threshold gate reads them. A row
    with no FPIR (no non-mated search) is left out rather than reported as 0."""
    rows = []
    for result in results["identification"]:
        for row in result["overall"]:
            fpir = row["fpir"]
            if fpir is None:
                continue
            low, high = _holding(row["fpir_ci"], fpir)
            rows.append({
                "watchlist_size": result["watchlist_size"],
                "threshold": row["threshold"],
                "tpir": row["tpir"],
                "fpir": fpir,
                "fpir_ci_low": low,
                "fpir_ci_high": high,
                # From which the platform computes the bound the threshold gate uses.
                "nonmated_searches": row["nonmated_searches"],
                "false_alerts": row["false_alerts"],
            })
    if len(rows) > MAX_IDENTIFICATION_ROWS:
        raise RegistrationError(
            f"{len(rows)} identification rows (watchlist sizes x thresholds); the platform "
            f"takes at most {MAX_IDENTIFICATION_ROWS}: sweep fewer thresholds or watchlist sizes"
        )
    return rows


def _group_row(group: str, row: dict[str, Any]) -> dict[str, Any]:
    """EquityAuditIn's row of one group at one threshold (ci_low/ci_high: the FPIR's)."""
    fpir = row["fpir"] if row["fpir"] is not None else 0.0
    low, high = _holding(row["fpir_ci"], fpir)
    return {"group": group[:100], "threshold": row["threshold"],
            "tpir": row["tpir"] if row["tpir"] is not None else 0.0, "fpir": fpir,
            "ci_low": low, "ci_high": high}


def audit_payload(results: dict[str, Any], dataset_name: str,
                  conducted_on: date | None = None) -> dict[str, Any]:
    """The platform's EquityAuditIn from a results dict: the model measured (and the
    second opinion it decided with, if any), per-group TPIR and FPIR at each threshold for
    the largest watchlist (ci_low/ci_high: the FPIR's 95% interval), and the overall rates
    at every watchlist size (``identification_rows``)."""
    fair = results["fair_threshold"]
    recommended = results["recommended_threshold"]
    if fair is None:
        raise RegistrationError(
            "this evaluation has no fair threshold (no group labels, or groups differ at "
            "every threshold swept), and the platform's threshold gate needs one; label "
            "groups in a CSV manifest or sweep higher thresholds"
        )
    if recommended is None:
        raise RegistrationError(
            f"no swept threshold keeps FPIR at or below {results['target_fpir']:g}; sweep "
            "higher thresholds before registering"
        )
    largest = results["identification"][-1]
    group_results = [
        _group_row(f"{column}={label}", row)
        for column, table in largest["groups"].items()
        for label, entry in table.items()
        # A group with no searches of one kind has no rate: leave it out, not report 0.
        if entry["mated_searches"] and entry["nonmated_searches"]
        for row in entry["rows"]
    ]
    if len(group_results) > MAX_GROUP_RESULTS:
        raise RegistrationError(
            f"{len(group_results)} group results; the platform takes at most "
            f"{MAX_GROUP_RESULTS}: sweep fewer thresholds"
        )
    identification = identification_rows(results)
    smallest = results["identification"][0]["watchlist_size"]
    sizes = (f"{smallest}" if smallest == largest["watchlist_size"]
             else f"sizes {smallest} to {largest['watchlist_size']}")
    ds = results["dataset"]
    summary = (
        f"openlfr evaluate: {ds['identities']} identities, {ds['images_described']} images "
        f"described; watchlist {largest['watchlist_size']}: {largest['mated_searches']} mated "
        f"and {largest['nonmated_searches']} non-mated searches. Group results give TPIR and "
        f"FPIR per threshold; ci_low/ci_high are the FPIR's 95% "
        f"{results['protocol']['interval_method']} interval. Identification rows give the "
        f"overall TPIR and FPIR per threshold at watchlist {sizes}. Scores are the engine's "
        f"decision score (how far the best entry stands out from the rest of the "
        f"watchlist). Fair threshold: lowest from which "
        f"no group's FPIR differs significantly (pairwise Fisher, Holm, alpha "
        f"{results['protocol']['alpha']}). Recommended: fair and FPIR <= "
        f"{results['target_fpir']:g}."
    )
    engine = results["engine"]
    second = engine.get("second_opinion")
    if second:
        summary += f" Decided with a second opinion: {second['rule']}."
    duplicates = results.get("probable_duplicates")
    if duplicates and duplicates["found"]:
        summary += (f" {found_sentence(duplicates)}, probably one person filed under two "
                    "identities; they are counted as false alerts in the rates above.")
    return {
        "conducted_on": (conducted_on or date.today()).isoformat(),
        "dataset": dataset_name[:200] or "dataset",
        "engine_version": (f"openlfr {results['openlfr_version']}; {engine['model_id']}"
                           + (f"; second opinion {second['model_id']}" if second else ""))[:200],
        # What the platform matches: model_id against the register entry's model, and the
        # second opinion against the watchlist a deployment decides with.
        "model_id": engine["model_id"][:200],
        "second_opinion_model": second["model_id"][:200] if second else None,
        "thresholds_swept": results["thresholds"],
        "group_results": group_results,
        "identification": identification,
        "recommended_threshold": recommended,
        "fair_threshold": fair,
        "summary": summary,
    }


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):  # FastAPI validation errors
        return "; ".join(
            f"{'.'.join(str(x) for x in d.get('loc', []))}: {d.get('msg')}" for d in detail[:5])
    return str(detail if detail is not None else body)[:300]


def register_audit(
    url: str,
    api_key: str,
    payload: dict[str, Any],
    *,
    timeout_s: float = 30.0,
    client: httpx.Client | None = None,
) -> dict[str, Any]:
    """POST the audit; returns the platform's record or raises RegistrationError.

    ``client`` is for callers that already hold one (tests pass the app's test client).
    """
    endpoint = audits_url(url)
    if not api_key.strip():
        raise RegistrationError("--api-key is empty; ask a platform admin for a key")
    try:
        if client is not None:
            response = client.post(endpoint, json=payload, headers={API_KEY_HEADER: api_key})
        else:
            with httpx.Client(timeout=timeout_s) as own:
                response = own.post(endpoint, json=payload, headers={API_KEY_HEADER: api_key})
    except httpx.HTTPError as exc:
        raise RegistrationError(f"{endpoint}: cannot reach the platform ({exc})") from exc
    if response.status_code in (200, 201):
        try:
            record: dict[str, Any] = response.json()
        except ValueError:
            record = {}
        return record
    hints = {
        401: "the API key was refused; check --api-key",
        403: "the key may not record equity audits (the platform allows an audit tool's key, "
             "which oversight issues, or an oversight member)",
        404: "no such technology register entry; list them with GET /api/technology",
        422: "the platform rejected the audit's content",
    }
    hint = hints.get(response.status_code, "the platform refused the audit")
    raise RegistrationError(
        f"{endpoint}: HTTP {response.status_code}: {hint} ({_detail(response)})"
    )
