"""What exactly a failing gate found, as a stable key: the failure an override is signed
for. Two people sign for a failure (a threshold of 0.64 on an engine never audited; this
watchlist, built three days early), not for a gate: the same gate failing with another
key (the threshold lowered to 0.30; entries added in a forbidden category) is a new
failure that their signatures do not cover (``governance.overrides``), and an amendment
that changes a failing gate's key changes its answer (``governance.amendments``).

A key is a fingerprint of the facts the gate judged and the policy it judged them by,
never of its reason text (which says how long ago things happened). It does not move
with the clock except where the failure itself does: feedback the consultation gate
finds wanting includes questions whose answer deadline has passed since.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import fields, is_dataclass, replace
from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from openlfr.governance.answers import KINDS_DUE_BEFORE_START
from openlfr.governance.records import (
    ConsultationStatus,
    DeploymentDossier,
    FeedbackKind,
    WatchlistFacts,
)

if TYPE_CHECKING:  # gates imports this module to key the failures it reports
    from openlfr.governance.gates import GateParameters

#: Bumped when what a key covers changes: an override signed under another version's key
#: covers nothing (it must be asked for and countersigned again), never something wider.
KEY_VERSION = "v1"


def failure_key(gate: str, dossier: DeploymentDossier, params: GateParameters) -> str:
    """The key of gate ``gate``'s failure on ``dossier`` (call it for a failing gate)."""
    facts = _FACTS.get(gate, _everything)(dossier, params)
    text = json.dumps([gate, facts], sort_keys=True, separators=(",", ":"))
    return f"{KEY_VERSION}:{hashlib.sha256(text.encode()).hexdigest()[:32]}"


def _plain(value: Any) -> Any:
    """``value`` as JSON: dataclasses as dicts, dates as ISO text, sets sorted."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return _bag(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _bag(items: Iterable[Any]) -> list[Any]:
    """Items whose order means nothing (rows as the database returned them), sorted."""
    return sorted((_plain(i) for i in items), key=lambda v: json.dumps(v, sort_keys=True))


def _notice(d: DeploymentDossier, p: GateParameters) -> Any:
    return {"published": _plain(d.deployment.notice_published_at),
            "start": _plain(d.deployment.start_at),
            "policy": [p.notice_days, p.override_min_notice_days]}


def _assessment(d: DeploymentDossier, p: GateParameters) -> Any:
    c = d.consultation
    return {"assessment": _plain(d.cia), "engagement": _bag(d.engagement),
            "consultation": None if c is None else c.status.value}


def _engagement(d: DeploymentDossier, p: GateParameters) -> Any:
    return {"engagement": _bag(d.engagement), "policy": p.resident_share}


def _consultation(d: DeploymentDossier, p: GateParameters) -> Any:
    """The consultation as it stands, and the feedback the gate may find wanting:
    objections with no answer, and objections or questions past their deadline (by
    ``as_of``), their text withheld for abuse or not. Feedback answered or not yet due is
    left out, and so are responses still arriving to an open consultation: they are not
    what fails."""
    c = d.consultation
    now = d.as_of or d.deployment.start_at
    wanting = [f for f in d.feedback if not f.answered and (
        f.kind is FeedbackKind.OBJECTION
        or (f.kind in KINDS_DUE_BEFORE_START and f.answer_due_at < now))]
    unheard = sum(1 for o in d.collective_objections
                  if o.signatures >= p.collective_threshold and not o.hearing_held)
    facts: dict[str, Any] = {
        "consultation": None if c is None else {
            "status": c.status.value, "opened": _plain(c.opened_at),
            "closed": _plain(c.closed_at),
            "responses": c.response_count if c.status is ConsultationStatus.CLOSED else None},
        "wanting": _bag((f.kind, f.submitted_at, f.answer_due_at) for f in wanting),
        "unheard_collective": unheard,
        "policy": [p.consultation_min_days, p.consultation_min_responses,
                   p.collective_threshold]}
    if d.plan_widened_at is not None:  # absent otherwise: keys signed before stay as they were
        facts["plan_widened"] = _plain(d.plan_widened_at)
    return facts


def _watchlist(d: DeploymentDossier, p: GateParameters) -> Any:
    """The watchlist's content and build time (any edit or rebuild is another failure)."""
    w = d.watchlist
    return {"start": _plain(d.deployment.start_at),
            "watchlist": None if w is None else {"entries": _entries_digest(w),
                                                 "built": _plain(w.built_at)},
            "policy": [p.watchlist_max_entries, p.watchlist_max_image_age_days,
                       _bag(p.watchlist_allowed_categories), p.watchlist_built_within_hours]}


def _entries_digest(w: WatchlistFacts) -> str:
    """The entries' content as one digest, in any order (a watchlist may hold thousands:
    plain text lines, sorted natively, keep this quick)."""
    lines = sorted(f"{e.category}|{e.image_taken_on}|{e.expires_on or ''}" for e in w.entries)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _threshold(d: DeploymentDossier, p: GateParameters) -> Any:
    """The threshold and the audit it was held against; with an audit, also what picks
    the audited row and model (watchlist size, descriptor model, second opinion)."""
    audit, w = d.latest_equity_audit, d.watchlist
    facts: dict[str, Any] = {"threshold": d.deployment.threshold, "audit": _plain(audit)}
    if audit is not None:
        facts["watchlist"] = None if w is None else [
            len(w.entries), w.descriptor_model, w.reference_model]
        facts["policy"] = p.max_audit_fpir
    return facts


def _motions(d: DeploymentDossier, p: GateParameters) -> Any:
    """The motions covering the area as they stand: response and answers included."""
    dep = d.deployment
    return {"motions": _bag(x for x in d.motions if x.covers(dep.borough_code, dep.ward_code)),
            "policy": _plain(p)}


def _everything(d: DeploymentDossier, p: GateParameters) -> Any:
    """A gate this module does not know: every fact but the clock, and the whole policy."""
    return {"dossier": _plain(replace(d, as_of=None)), "policy": _plain(p)}


_FACTS: dict[str, Callable[[DeploymentDossier, GateParameters], Any]] = {
    "notice_period": _notice,
    "impact_assessment": _assessment,
    "engagement_reach": _engagement,
    "consultation_and_objections": _consultation,
    "watchlist_rules": _watchlist,
    "threshold": _threshold,
    "council_motions": _motions,
}
