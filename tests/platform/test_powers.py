"""The one table of powers: every API route names an action of it and answers every role
as it says; every use case checks it; what it says about the powers that hold each other
to account; and the README's copy is the table's own output."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from platform_helpers import ROLES, FakeClock, Scenario, Staff, new_client

import openlfr.services
from openlfr.governance.lifecycle import Transition
from openlfr.services import alerts, deployments
from openlfr.services.deployments import TRANSITION_POWERS
from openlfr.services.platform import Actor, PermissionDenied, Platform, Role
from openlfr.services.powers import POWERS, Action, may, powers_markdown, roles_for
from openlfr.web.deps import route_action

README = Path(__file__).resolve().parents[2] / "README.md"


def _calls(dependant: Any) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def api_routes(app: Any) -> list[tuple[str, set[str], Action | None]]:
    """(path, methods, action of the powers table) of every route under /api."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI flattens included routers
        found = [(r.path, set(r.methods), r) for r in app.routes if isinstance(r, APIRoute)]
    else:
        found = [(str(rc.path), set(rc.methods or ()), rc.route)
                 for rc in iter_route_contexts(app.routes)
                 if isinstance(rc.original_route, APIRoute)]
    return [(path, methods, route_action(_calls(route.dependant)))
            for path, methods, route in found if path.startswith("/api/")]


def _concrete(path: str) -> str:
    """Path parameters filled with ids no record has: the walk changes nothing."""
    return re.sub(r"\{[^}]+\}", "999999", path.replace("{reference}", "LFR-2026-0001"))


def test_every_api_route_answers_every_role_as_the_powers_table_says(
        staff: Staff, clock: FakeClock) -> None:
    """Walk the route table: each route names one action; for every role (and anonymous
    callers and node keys) the answer is 401/403 exactly when the table says no."""
    callers = {role: staff[role] for role in ROLES}
    # A node key serves one deployment (the walk's ids are none of its own: 404).
    own = Scenario(staff, clock)
    own.draft()
    callers["node"] = staff.node(own.deployment_id)
    callers["audit_tool"] = staff.node(name="audit-cli", role="audit_tool")
    callers["public"] = staff.anon
    checked = 0
    # Logging out ends the clients' sessions: walk it last.
    routes = sorted(api_routes(staff.app), key=lambda route: route[0] == "/api/auth/logout")
    for path, methods, action in routes:
        assert action is not None, f"{path} names no action of the powers table"
        for method in methods:
            for role, client in callers.items():
                r = client.request(method, _concrete(path), json={})
                allowed = may(Role(role), action)
                if allowed:
                    assert r.status_code not in (401, 403), (method, path, role, r.text)
                elif (role == "audit_tool" and method == "POST"
                      and path.startswith("/api/node/deployments/{deployment_id}/")
                      and r.status_code == 422):
                    # A node's writes check the key in the transaction that records them
                    # (``NodeWrite``), so an empty body is refused first; a well-formed
                    # write from this key is refused 403 (test_api_access).
                    assert r.json()["detail"][0]["loc"][0] == "body", r.text
                elif role == "public":
                    assert r.status_code == 401, (method, path, r.status_code)
                else:
                    assert r.status_code == 403, (method, path, role, r.status_code)
                    assert "needs one of these roles" in r.json()["detail"]
                checked += 1
    assert checked >= 9 * 93  # the walk really walked (94 route methods, 9 callers)


# --- every use case checks the table ----------------------------------------------------


#: Each use case that takes an actor, and the action it must check. Functions that take a
#: session (``..._in``), private helpers and the powers module itself are not use cases.
USE_CASES: dict[str, Action] = {
    "alerts.adjudicate_alert": Action.ALERT_DECIDE,
    "assessments.redact_evidence": Action.ENGAGEMENT_WRITE,
    "collective.hide_collective_text": Action.FEEDBACK_MODERATE,
    "alerts.alert_image": Action.ALERT_PHOTO_READ,
    "alerts.deployment_figures": Action.FIGURES_READ,
    "alerts.list_alerts": Action.ALERT_READ,
    "alerts.record_alert": Action.NODE_RUN,
    "alerts.record_counters": Action.NODE_RUN,
    "alerts.record_node_batch": Action.NODE_RUN,
    "alerts.record_outcome": Action.ALERT_DECIDE,
    "alerts.submit_alert": Action.NODE_RUN,
    "alerts.submit_counters": Action.NODE_RUN,
    "amendments.amend_record": Action.RECORD_AMEND,
    "amendments.amendments_for": Action.DEPLOYMENT_READ,
    "assessments.add_engagement_event": Action.ENGAGEMENT_WRITE,
    "assessments.attach_evidence": Action.ENGAGEMENT_WRITE,
    "assessments.delete_engagement_event": Action.ENGAGEMENT_WRITE,
    "assessments.list_engagement_events": Action.ENGAGEMENT_READ,
    "assessments.publish_assessment": Action.ASSESSMENT_PUBLISH,
    "assessments.replace_engagement_event": Action.ENGAGEMENT_WRITE,
    "assessments.save_assessment": Action.ASSESSMENT_WRITE,
    "assessments.view_assessment": Action.ASSESSMENT_READ,
    "audit_log.list_events": Action.AUDIT_LOG_READ,
    "audit_log.verify": Action.AUDIT_LOG_READ,
    "audit_log.checkpoint": Action.PUBLIC_READ,
    "audit_log.verify_checkpoint": Action.AUDIT_LOG_READ,
    "consultations.answer_feedback": Action.FEEDBACK_ANSWER,
    "consultations.close_consultation": Action.CONSULTATION_WRITE,
    "consultations.consultation_results": Action.CONSULTATION_READ,
    "consultations.correct_motion": Action.MOTION_RECORD,
    "consultations.feedback_awaiting_answer": Action.FEEDBACK_READ,
    "consultations.get_consultation": Action.CONSULTATION_READ,
    "consultations.get_motion": Action.MOTION_READ,
    "consultations.hide_feedback": Action.FEEDBACK_MODERATE,
    "consultations.keep_flagged_wording": Action.CONSULTATION_WRITE,
    "consultations.countersign_kept_wording": Action.CONSULTATION_COUNTERSIGN,
    "consultations.list_feedback": Action.FEEDBACK_READ,
    "consultations.list_motions": Action.MOTION_READ,
    "consultations.open_consultation": Action.CONSULTATION_WRITE,
    "consultations.record_motion": Action.MOTION_RECORD,
    "consultations.respond_to_motion": Action.MOTION_RESPOND,
    "consultations.save_consultation": Action.CONSULTATION_WRITE,
    "consultations.submit_feedback": Action.FEEDBACK_SUBMIT,
    "consultations.submit_response": Action.CONSULTATION_ANSWER,
    "consultations.withdraw_wording_reason": Action.CONSULTATION_WRITE,
    "deployments.add_comment": Action.COMMENT_RECORD,
    "deployments.comments_for": Action.DEPLOYMENT_READ,
    "deployments.create_deployment": Action.DEPLOYMENT_DRAFT,
    "deployments.gate_report": Action.DEPLOYMENT_READ,
    "deployments.get_deployment": Action.DEPLOYMENT_READ,
    "deployments.list_deployments": Action.DEPLOYMENT_READ,
    "deployments.overrides_for": Action.DEPLOYMENT_READ,
    "deployments.update_deployment": Action.DEPLOYMENT_EDIT,
    "live.console_view": Action.CONSOLE_WATCH,
    "live.open_stream": Action.CONSOLE_WATCH,
    "nodes.node_deployment_by_reference": Action.NODE_RUN,
    "nodes.node_deployment_status": Action.NODE_RUN,
    "nodes.record_watchlist_dropped": Action.NODE_RUN,
    "nodes.release_watchlist": Action.NODE_RUN,
    "collective.collective_objections": Action.FEEDBACK_READ,
    "collective.file_collective": Action.COLLECTIVE_OBJECT,
    "collective.record_hearing": Action.COLLECTIVE_HEARING,
    "collective.sign": Action.COLLECTIVE_OBJECT,
    "mailer.demo_mailbox": Action.MAILBOX_READ,
    "objections.author_view": Action.FEEDBACK_REPLY,
    "objections.escalate": Action.FEEDBACK_REPLY,
    "objections.escalations": Action.FEEDBACK_READ,
    "objections.follow": Action.FEEDBACK_FOLLOW,
    "objections.reply": Action.FEEDBACK_REPLY,
    "objections.respond_to_escalation": Action.ESCALATION_RESPOND,
    "overrides.countersign_override": Action.OVERRIDE_COUNTERSIGN,
    "rescheduling.reschedule_deployment": Action.DEPLOYMENT_RESCHEDULE,
    "technology.list_equity_audits": Action.TECHNOLOGY_READ,
    "technology.record_equity_audit": Action.EQUITY_AUDIT_RECORD,
    "technology.register_technology": Action.TECHNOLOGY_REGISTER,
    "technology.register_running_engine": Action.TECHNOLOGY_REGISTER,
    "admin.settings_in_force": Action.SETTINGS_READ,
    "outcomes.record_later_outcome": Action.LATER_OUTCOME_RECORD,
    "outcomes.arrests_of": Action.LATER_OUTCOME_RECORD,
    "technology.update_technology": Action.TECHNOLOGY_REGISTER,
    "users.create_api_key": Action.NODE_KEY_ISSUE,
    "users.confirm_api_key": Action.NODE_KEY_CONFIRM,
    "users.create_user": Action.USERS_MANAGE,
    "users.create_independent_account": Action.INDEPENDENT_ACCOUNTS_MANAGE,
    "users.create_audit_key": Action.AUDIT_KEYS_MANAGE,
    "users.list_audit_keys": Action.AUDIT_KEYS_MANAGE,
    "users.revoke_audit_key": Action.AUDIT_KEYS_MANAGE,
    "users.list_independent_accounts": Action.INDEPENDENT_ACCOUNTS_MANAGE,
    "users.update_independent_account": Action.INDEPENDENT_ACCOUNTS_MANAGE,
    "users.clear_login_throttle": Action.USERS_MANAGE,
    "users.clear_independent_login_throttle": Action.INDEPENDENT_ACCOUNTS_MANAGE,
    "users.list_api_keys": Action.API_KEYS_MANAGE,
    "users.key_deliveries": Action.API_KEYS_MANAGE,
    "users.list_users": Action.USERS_MANAGE,
    "users.log_out": Action.SESSION_USE,
    "users.change_password": Action.SESSION_USE,
    "users.revoke_api_key": Action.API_KEYS_MANAGE,
    "users.update_user": Action.USERS_MANAGE,
    "users.held_changes": Action.ACCOUNT_CHANGE_COUNTERSIGN,
    "users.countersign_change": Action.ACCOUNT_CHANGE_COUNTERSIGN,
    "users.refuse_change": Action.ACCOUNT_CHANGE_COUNTERSIGN,
    "watchlist_photos.enrol_from_photos": Action.WATCHLIST_WRITE,
    "watchlist_photos.reference_photo": Action.WATCHLIST_READ,
    "watchlists.add_entry": Action.WATCHLIST_WRITE,
    "watchlists.build_watchlist": Action.WATCHLIST_WRITE,
    "watchlists.create_watchlist": Action.WATCHLIST_WRITE,
    "watchlists.get_watchlist": Action.WATCHLIST_READ,
    "watchlists.release_to_node": Action.NODE_RUN,
    "watchlists.remove_entry": Action.WATCHLIST_WRITE,
}
#: Helpers that take an actor only to name it in the audit log, or that the use cases
#: above call after checking; and the lifecycle use case, whose action depends on the
#: transition (tested per transition below).
NOT_USE_CASES = {"nodes.require_node_delivery", "watchlists.require_own_deployment",
                 "watchlists.serves", "moderation.withhold",
                 "powers.require", "powers.require_area",
                 "watchlists.require_node_key", "watchlists.require_node_access",
                 "reports.record_changed_after_completion", "deployments.apply_transition",
                 "deployments.transition_deployment"}


def use_cases() -> dict[str, Callable[..., Any]]:
    """Every function of ``openlfr.services`` with an ``actor`` parameter."""
    found: dict[str, Callable[..., Any]] = {}
    for info in pkgutil.iter_modules(openlfr.services.__path__):
        module = importlib.import_module(f"openlfr.services.{info.name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if (fn.__module__ == module.__name__ and not name.startswith("_")
                    and not name.endswith("_in")
                    and "actor" in inspect.signature(fn).parameters):
                found[f"{info.name}.{name}"] = fn
    return found


def test_every_use_case_is_listed_with_the_action_it_checks() -> None:
    assert set(use_cases()) - NOT_USE_CASES == set(USE_CASES)


def _dummy(parameter: inspect.Parameter, platform: Platform) -> Any:
    """A stand-in for an argument: the power is checked before any argument is used."""
    annotation = str(parameter.annotation)
    if parameter.name == "p":
        return platform
    if "int" in annotation.split("|")[0]:
        return 1
    if parameter.name in ("where", "reference", "token"):
        return "x"
    return None


def _refusals(fn: Callable[..., Any], platform: Platform, **fixed: Any) -> set[str]:
    """The roles ``fn`` refuses with PermissionDenied (other errors mean it let them by)."""
    refused = set()
    for role in Role:
        actor = Actor(name=f"{role.value}-probe", role=role, user_id=99)
        kwargs = {name: fixed.get(name, _dummy(param, platform))
                  for name, param in inspect.signature(fn).parameters.items()
                  if name != "actor" and param.default is inspect.Parameter.empty}
        try:
            fn(actor=actor, **kwargs)
        except PermissionDenied:
            refused.add(role.value)
        except Exception:  # noqa: BLE001, S110 - anything else happens after the check
            pass
    return refused


@pytest.mark.parametrize("name", sorted(USE_CASES))
def test_each_use_case_refuses_exactly_the_roles_the_table_refuses(
        name: str, platform: Platform) -> None:
    fn = use_cases()[name]
    expected = {r.value for r in Role} - {r.value for r in roles_for(USE_CASES[name])}
    assert _refusals(fn, platform) == expected


@pytest.mark.parametrize("transition", sorted(TRANSITION_POWERS))
def test_each_lifecycle_action_refuses_the_roles_its_power_refuses(
        transition: Transition, platform: Platform) -> None:
    refused = _refusals(deployments.transition_deployment, platform, action=transition)
    expected = {r.value for r in Role} - {r.value for r in roles_for(
        TRANSITION_POWERS[transition])}
    assert refused == expected


def test_the_photo_of_an_alert_is_checked_whichever_photo(platform: Platform) -> None:
    for which in alerts.AlertImage:
        assert _refusals(alerts.alert_image, platform, which=which) == {
            r.value for r in Role} - {"operator", "authoriser"}


# --- what the table says ----------------------------------------------------------------


def test_the_powers_that_hold_each_other_to_account() -> None:
    """Written out, not read from the table: these are the separations the table must
    keep. Nobody takes a deployment live alone against a failing gate; the force does not
    record (or rewrite) the council motions it must answer; personal data stays with the
    roles that act on it."""
    def who(action: Action) -> set[str]:
        return {r.value for r in roles_for(action)}

    assert who(Action.OVERRIDE_REQUEST) == {"authoriser"}
    assert who(Action.OVERRIDE_COUNTERSIGN) == {"oversight"}
    assert who(Action.OVERRIDE_REQUEST).isdisjoint(who(Action.OVERRIDE_COUNTERSIGN))
    # Nor by making an oversight account, or a key that acts as one: oversight's and
    # councillors' accounts are oversight's to make, and keys are nodes or audit tools.
    assert who(Action.INDEPENDENT_ACCOUNTS_MANAGE) == {"oversight"}
    assert who(Action.USERS_MANAGE).isdisjoint(who(Action.INDEPENDENT_ACCOUNTS_MANAGE))
    # Nor by making or resetting a force account and acting as it: an admin's change that
    # gives a login or a power waits for oversight's countersignature.
    assert who(Action.ACCOUNT_CHANGE_COUNTERSIGN) == {"oversight"}
    assert who(Action.USERS_MANAGE).isdisjoint(who(Action.ACCOUNT_CHANGE_COUNTERSIGN))
    # A node key reads its deployment's watchlist: only those who may read one issue it;
    # and it sends alerts: not those who judge them.
    assert who(Action.NODE_KEY_ISSUE) == {"authoriser"}
    assert who(Action.NODE_KEY_ISSUE) <= who(Action.WATCHLIST_READ)
    assert who(Action.NODE_KEY_ISSUE).isdisjoint(who(Action.ALERT_DECIDE))
    # and a key works only once another person confirms it: one issues, another confirms.
    assert who(Action.NODE_KEY_CONFIRM) == {"operator"}
    assert who(Action.NODE_KEY_ISSUE).isdisjoint(who(Action.NODE_KEY_CONFIRM))
    assert who(Action.API_KEYS_MANAGE) == {"admin", "operator", "authoriser"}
    # Nor record the audit the threshold gate holds it to: oversight (or its tools' keys).
    assert who(Action.EQUITY_AUDIT_RECORD) == {"oversight", "audit_tool"}
    assert who(Action.AUDIT_KEYS_MANAGE) == {"oversight"}
    assert all("audit_tool" not in who(a) and "node" not in who(a) for a in (
        Action.OVERRIDE_COUNTERSIGN, Action.CONSULTATION_COUNTERSIGN, Action.MOTION_RECORD,
        Action.COMMENT_RECORD, Action.ESCALATION_RESPOND, Action.COLLECTIVE_HEARING))
    assert who(Action.MOTION_RECORD) == {"oversight", "councillor"}
    assert who(Action.MOTION_RESPOND) == {"planner", "authoriser"}
    assert who(Action.MOTION_RECORD).isdisjoint(who(Action.MOTION_RESPOND))
    assert who(Action.COMMENT_RECORD) == {"oversight", "councillor"}
    assert who(Action.RECORD_AMEND) == {"planner"}
    assert who(Action.FEEDBACK_CONTACT_READ) == {"planner", "authoriser"}
    assert who(Action.WATCHLIST_READ) == {"planner", "authoriser", "operator"}
    assert who(Action.ALERT_PHOTO_READ) == {"operator", "authoriser"}
    assert who(Action.NODE_RUN) == {"node"}
    assert all("node" not in who(a) and "public" not in who(a) for a in (
        Action.DEPLOYMENT_READ, Action.ASSESSMENT_READ, Action.FEEDBACK_READ))
    assert all("public" in who(a) for a in (
        Action.PUBLIC_READ, Action.FEEDBACK_SUBMIT, Action.CONSULTATION_ANSWER))


def test_every_action_has_a_row_and_the_readme_shows_the_generated_table() -> None:
    assert set(POWERS) == set(Action)
    text = README.read_text(encoding="utf-8")
    start, end = "<!-- powers table: generated by `openlfr powers --markdown` -->", \
        "<!-- end of powers table -->"
    assert start in text and end in text, "the README has no powers table section"
    shown = text.split(start, 1)[1].split(end, 1)[0].strip()
    assert shown == powers_markdown(), (
        "the README's powers table is not the table's own output; regenerate it with "
        "`openlfr powers --markdown`")


def test_a_person_sees_what_they_may_not_do_and_who_may(staff: Staff) -> None:
    r = staff["planner"].post("/api/deployments/1/overrides/countersign",
                              json={"justification": "x" * 50})
    assert r.status_code == 403
    assert r.json()["detail"] == ("countersign an override another person asked for, with a "
                                  "justification needs one of these roles: oversight; you "
                                  "are 'planner'")
    anonymous = new_client(staff.app).get("/api/deployments")
    assert anonymous.status_code == 401 and "log in first" in anonymous.json()["detail"]
