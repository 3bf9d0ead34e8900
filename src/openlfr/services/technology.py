"""Use cases for the technology register and equity audits.

A register entry is one engine setup with its ATRS record (``services.atrs``). Every edit
publishes a new version (``technology_versions`` keeps each as it was, with its reason),
and its equity audits stay joined to the entry across versions. An audit measures a model,
not an entry: it is recorded only on an entry of the model it measured, and the register
and the threshold gate read the latest audit of that model, whichever entry of it holds
the audit, through ``latest_audit_in``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openlfr.audit import append_event
from openlfr.governance.errors import InvalidInput
from openlfr.governance.gates import (
    audited_model_change_problem,
    audited_model_problem,
    audited_rates_for,
    equity_audit_date_problem,
)
from openlfr.governance.records import AuditedRates, WatchlistFacts
from openlfr.services.atrs import AtrsFields, RegisterEntryIn
from openlfr.services.common import get_or_404
from openlfr.services.platform import Actor, Platform
from openlfr.services.powers import Action, require
from openlfr.services.schemas import EquityAuditIn, TechnologyIn
from openlfr.storage import models as m

if TYPE_CHECKING:  # figures reads overrides, which read the dossier, which reads this
    from openlfr.services.figures import Usage


@dataclass(frozen=True)
class EngineFacts:
    """What the running engine says about itself, for its register entry."""

    model_id: str
    algorithm: str
    default_threshold: float
    detector: str
    descriptor: str


def engine_facts() -> EngineFacts:
    """The running engine's model id (network and weights hash), what it runs (detector,
    alignment, descriptor, decision rule) and its default threshold, read from the engine
    without loading any network."""
    from openlfr.recognition import DEFAULT_THRESHOLD
    from openlfr.recognition.backends import (
        DEFAULT_DESCRIPTOR,
        DEFAULT_DETECTOR,
        algorithm_summary,
        engine_model_id,
    )

    return EngineFacts(model_id=engine_model_id(), algorithm=algorithm_summary(),
                       default_threshold=DEFAULT_THRESHOLD, detector=DEFAULT_DETECTOR,
                       descriptor=DEFAULT_DESCRIPTOR)


@dataclass(frozen=True)
class RegisterEntry:
    """A register entry with the equity audits recorded on it (oldest first), its
    published versions (oldest first) and the latest audit of its model, recorded on it
    or on another entry of the same model (``latest_audit_in``: what the threshold gate
    reads)."""

    technology: m.Technology
    audits: list[m.EquityAudit]
    versions: list[m.TechnologyVersion]
    latest_audit: m.EquityAudit | None
    #: What the deployments on it did, from the platform's tallies (``atrs_entries``
    #: fills it; None elsewhere): published beside the typed frequency and scale of use.
    usage: Usage | None = None

    def false_alerts_at_default(self) -> list[AuditedRates]:
        """The latest audit's false-alert rates at the entry's default threshold, one row
        per audited watchlist size, each read as the threshold gate reads them."""
        audit = self.latest_audit
        if audit is None:
            return []
        rows = audited_rates(audit)
        found = (audited_rates_for(rows, size, self.technology.default_threshold).rates
                 for size in sorted({r.watchlist_size for r in rows}))
        return [r for r in found if r is not None]


def audited_rates(audit: m.EquityAudit) -> tuple[AuditedRates, ...]:
    """An audit's identification rows as the threshold gate reads them, with the upper
    bound the platform computed from the counts. A row stored before counts were required
    has none, and the gate does not pass it: the audit's own interval is its word, not a
    bound the platform checked."""
    return tuple(AuditedRates(watchlist_size=r["watchlist_size"], threshold=r["threshold"],
                              fpir=r["fpir"], tpir=r.get("tpir"),
                              fpir_upper=r.get("fpir_upper_exact"),
                              nonmated_searches=r.get("nonmated_searches"),
                              false_alerts=r.get("false_alerts"))
                 for r in audit.identification or ())


def latest_audit_in(s: Session, technology_id: int | None,
                    watchlist: WatchlistFacts | None = None) -> m.EquityAudit | None:
    """The one join of a technology and its latest equity audit, read by the register and
    by the threshold gate (``services.dossier``): the latest audit of the entry's model,
    on this entry or any other of the same model_version (an audit measures a network, so
    a newer one recorded on another entry of it is not set aside). Given the deployment's
    ``watchlist``, the latest that decided as it decides (with its second opinion, or
    none), where there is one; else the latest, whose other decision rule the gate then
    names. With no technology named, the latest audit of any (a deployment that does not
    say what it runs cannot escape the audit that exists)."""
    query = select(m.EquityAudit).order_by(m.EquityAudit.conducted_on.desc(),
                                           m.EquityAudit.id.desc())
    if technology_id is not None:
        model = select(m.Technology.model_version).where(
            m.Technology.id == technology_id).scalar_subquery()
        query = query.join(m.Technology, m.Technology.id == m.EquityAudit.technology_id
                           ).where(m.Technology.model_version == model)
    latest = s.scalar(query.limit(1))
    if latest is None or watchlist is None:
        return latest
    rule = watchlist.reference_model
    same_rule = s.scalar(query.where(
        m.EquityAudit.second_opinion_model.is_(None) if rule is None
        else m.EquityAudit.second_opinion_model == rule).limit(1))
    return same_rule or latest


def _content(t: m.Technology) -> dict[str, Any]:
    return {"algorithm": t.algorithm, "model_version": t.model_version,
            "vendor_or_project": t.vendor_or_project, "default_threshold": t.default_threshold,
            "notes": t.notes, "atrs": t.atrs}


def _publish_version(s: Session, actor: Actor, t: m.Technology, reason: str,
                     now: datetime) -> m.TechnologyVersion:
    v = m.TechnologyVersion(technology_id=t.id, version=t.version, content=_content(t),
                            reason=reason, published_by=actor.audit_name, published_at=now)
    s.add(v)
    return v


def _entry_data(data: TechnologyIn) -> tuple[dict[str, Any], str]:
    """The columns to write (the ATRS fields as JSON; left out when not given, so an edit
    without them keeps them) and the reason for the change."""
    fields = data.model_dump(mode="json", exclude={"reason"})
    if fields.get("atrs") is None:
        fields.pop("atrs", None)
    reason = data.reason if isinstance(data, RegisterEntryIn) else ""
    return fields, reason


def register_technology(p: Platform, actor: Actor, data: TechnologyIn) -> m.Technology:
    """Add an engine setup (algorithm, model version, vendor or project, its ATRS record)
    to the register; version 1 is published with it."""
    require(actor, Action.TECHNOLOGY_REGISTER)
    now = p.clock()
    fields, reason = _entry_data(data)
    with p.sessions.begin() as s:
        t = m.Technology(**fields, created_at=now, updated_at=now, version=1)
        s.add(t)
        s.flush()
        _publish_version(s, actor, t, reason or "registered", now)
        append_event(s, actor=actor.audit_name, action="technology.registered",
                     subject_type="technology", subject_id=t.id,
                     details={"algorithm": t.algorithm, "model_version": t.model_version,
                              "version": 1}, now=now)
    return t


def register_running_engine(p: Platform, actor: Actor, vendor_or_project: str = "openlfr",
                            notes: str = "", atrs: AtrsFields | None = None) -> m.Technology:
    """Register the engine this platform runs, with what it says about itself (and the
    ATRS fields people wrote, if given)."""
    require(actor, Action.TECHNOLOGY_REGISTER)
    facts = engine_facts()
    return register_technology(p, actor, RegisterEntryIn(
        algorithm=facts.algorithm, model_version=facts.model_id[:200],
        vendor_or_project=vendor_or_project, default_threshold=facts.default_threshold,
        notes=notes, atrs=atrs))


def update_technology(p: Platform, actor: Actor, technology_id: int,
                      data: TechnologyIn) -> m.Technology:
    """Edit a register entry: publishes the next version with its reason (the versions
    before stay readable). The entry's audits stay joined to it across versions, so once
    it has been audited its model cannot change (422 on model_version): a new model is a
    new entry."""
    require(actor, Action.TECHNOLOGY_REGISTER)
    now = p.clock()
    fields, reason = _entry_data(data)
    with p.sessions.begin() as s:
        t = get_or_404(s, m.Technology, technology_id, "technology register entry")
        audits = s.scalar(select(func.count()).select_from(m.EquityAudit).where(
            m.EquityAudit.technology_id == t.id)) or 0
        problem = audited_model_change_problem(t.model_version, fields["model_version"],
                                               audits)
        if problem is not None:
            raise InvalidInput("model_version", problem)
        before = _content(t)
        for key, value in fields.items():
            setattr(t, key, value)
        changed = sorted(k for k, v in _content(t).items() if before[k] != v)
        t.version += 1
        t.updated_at = now
        _publish_version(s, actor, t, reason or "corrected", now)
        append_event(s, actor=actor.audit_name, action="technology.corrected",
                     subject_type="technology", subject_id=t.id,
                     details={"algorithm": t.algorithm, "model_version": t.model_version,
                              "version": t.version, "changed": changed}, now=now)
    return t


def register_entries(p: Platform) -> list[RegisterEntry]:
    """Every register entry with its audits and versions; the register is public."""
    with p.sessions() as s:
        entries = []
        for t in s.scalars(select(m.Technology).order_by(m.Technology.id)):
            entries.append(_entry_in(s, t))
        return entries


def register_entry(p: Platform, technology_id: int) -> RegisterEntry:
    """One register entry (NotFound when there is none)."""
    with p.sessions() as s:
        return _entry_in(s, get_or_404(s, m.Technology, technology_id,
                                       "technology register entry"))


def _entry_in(s: Session, t: m.Technology) -> RegisterEntry:
    audits = list(s.scalars(select(m.EquityAudit).where(m.EquityAudit.technology_id == t.id)
                            .order_by(m.EquityAudit.conducted_on, m.EquityAudit.id)))
    versions = list(s.scalars(select(m.TechnologyVersion).where(
        m.TechnologyVersion.technology_id == t.id).order_by(m.TechnologyVersion.version)))
    return RegisterEntry(t, audits, versions, latest_audit_in(s, t.id))


def atrs_entries(p: Platform, technology_id: int | None = None) -> list[RegisterEntry]:
    """Register entries (one, or all) with what the platform counted on each
    (``figures.usage_by_technology``, read once): what the ATRS record publishes beside
    the typed scale of use."""
    # figures reads overrides, which read the dossier, which reads this module.
    from openlfr.services.figures import Figures, Usage, usage_by_technology

    with p.sessions() as s:
        rows = ([get_or_404(s, m.Technology, technology_id, "technology register entry")]
                if technology_id is not None
                else list(s.scalars(select(m.Technology).order_by(m.Technology.id))))
        usage = usage_by_technology(s)
        return [replace(_entry_in(s, t), usage=usage.get(t.id, Usage(0, Figures())))
                for t in rows]


def list_technologies(p: Platform) -> list[tuple[m.Technology, m.EquityAudit | None]]:
    """Each register entry with its latest equity audit (None when never audited)."""
    return [(e.technology, e.latest_audit) for e in register_entries(p)]


def with_exact_bounds(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Identification rows with ``fpir_upper_exact`` added where the row gives its counts:
    the exact (Clopper-Pearson) upper end of the FPIR's 95% interval, computed here from
    the counts rather than taken from the audit, as ``openlfr evaluate`` computes it. The
    threshold gate holds it against the policy maximum."""
    counted = [i for i, r in enumerate(rows) if r.get("nonmated_searches") is not None]
    if not counted:
        return rows
    import numpy as np

    from openlfr.evaluation.stats import proportion_ci  # SciPy: only when needed

    _, high = proportion_ci(np.array([rows[i]["false_alerts"] for i in counted]),
                            np.array([rows[i]["nonmated_searches"] for i in counted]))
    out = list(rows)
    for i, upper in zip(counted, high, strict=True):
        out[i] = {**rows[i], "fpir_upper_exact": float(upper)}
    return out


def record_equity_audit(p: Platform, actor: Actor, technology_id: int,
                        data: EquityAuditIn) -> m.EquityAudit:
    """Record an equity audit; its fair threshold becomes the threshold gate's floor. An
    audit dated in the future is refused (422 on conducted_on), and so is an audit of
    another model than the entry's (422 on model_id)."""
    require(actor, Action.EQUITY_AUDIT_RECORD)
    now = p.clock()
    problem = equity_audit_date_problem(data.conducted_on, now)
    if problem is not None:
        raise InvalidInput("conducted_on", problem)
    with p.sessions.begin() as s:
        t = get_or_404(s, m.Technology, technology_id, "technology register entry")
        problem = audited_model_problem(t.model_version, data.model_id)
        if problem is not None:
            raise InvalidInput("model_id", problem)
        # The model is the entry's (and stays so: an audited entry's model cannot change).
        payload = data.model_dump(exclude={"model_id"})
        payload["identification"] = with_exact_bounds(payload["identification"])
        a = m.EquityAudit(technology_id=technology_id, recorded_by=actor.audit_name,
                          created_at=now, **payload)
        s.add(a)
        s.flush()
        append_event(s, actor=actor.audit_name, action="equity_audit.recorded",
                     subject_type="technology", subject_id=technology_id,
                     details={"audit_id": a.id, "fair_threshold": a.fair_threshold,
                              "model": t.model_version,
                              "second_opinion_model": a.second_opinion_model}, now=now)
    return a


def list_equity_audits(p: Platform, actor: Actor, technology_id: int) -> list[m.EquityAudit]:
    """Every equity audit of a register entry (staff)."""
    require(actor, Action.TECHNOLOGY_READ)
    with p.sessions() as s:
        get_or_404(s, m.Technology, technology_id, "technology register entry")
        return list(s.scalars(select(m.EquityAudit).where(
            m.EquityAudit.technology_id == technology_id).order_by(m.EquityAudit.conducted_on)))
