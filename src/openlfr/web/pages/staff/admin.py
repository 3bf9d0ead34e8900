"""Admin pages: people and their roles (the force's staff by the admin; oversight members
and councillors by oversight, on a page of their own), API keys (issue, revoke, when last used), the
technology register (add, edit: every edit a new published version), the settings in
force (read-only, secrets masked) and the audit log with its verification. Each page
takes the action of the powers table its service checks; oversight reads the register,
settings and audit log too."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from openlfr.governance.errors import GovernanceError, InvalidInput
from openlfr.governance.roles import INDEPENDENT_ROLES
from openlfr.services import admin, atrs, audit_log, technology, users
from openlfr.services.platform import PERSON_ROLES, Actor, Platform, Role
from openlfr.services.powers import Action, may, ordered
from openlfr.services.schemas import AccountChangeIn, ApiKeyIn, AuditKeyIn, UserIn, UserPatch
from openlfr.web.pages.rendering import not_found, platform_of
from openlfr.web.pages.staff.common import (
    FORM,
    FormReader,
    done,
    form_about,
    notice_of,
    path_id,
    problem_status,
    service_problem,
)
from openlfr.web.pages.staff_access import StaffRoute, staff_form, staff_page, staff_render

#: The admin pages, the action each needs, for the admin home's links.
PAGES: tuple[tuple[str, str, Action], ...] = (
    ("People and roles", "staff_admin_users", Action.USERS_MANAGE),
    ("Oversight members and councillors", "staff_admin_independent",
     Action.INDEPENDENT_ACCOUNTS_MANAGE),
    ("API keys", "staff_admin_keys", Action.API_KEYS_MANAGE),
    ("Audit tools' keys", "staff_admin_audit_keys", Action.AUDIT_KEYS_MANAGE),
    ("Technology register", "staff_admin_register", Action.TECHNOLOGY_REGISTER),
    ("Settings in force", "staff_admin_settings", Action.SETTINGS_READ),
    ("Audit log", "staff_admin_audit", Action.AUDIT_LOG_READ),
)
AUDIT_PAGE_EVENTS = 100


def admin_home(request: Request) -> Response:
    actor = staff_page(request, Action.SETTINGS_READ)
    if isinstance(actor, Response):
        return actor
    return staff_render(request, actor, "staff_admin.html", {
        "pages": [(label, route) for label, route, action in PAGES if may(actor.role, action)]})


# --- people and roles -----------------------------------------------------------------------


@dataclass(frozen=True)
class Accounts:
    """One page of accounts: the force's staff (the admin's) or oversight members and
    councillors (oversight's); the same form, each with its own action and use cases."""

    action: Action
    title: str
    page: str
    add: str
    change: str
    roles: tuple[Role, ...]
    people: Callable[[Platform, Actor], list[Any]]
    create: Callable[[Platform, Actor, UserIn], Any]
    update: Callable[[Platform, Actor, int, UserPatch], Any]


STAFF_ACCOUNTS = Accounts(
    Action.USERS_MANAGE, "People and roles", "staff_admin_users", "staff_admin_add_user",
    "staff_admin_change_user", tuple(r for r in PERSON_ROLES if r not in INDEPENDENT_ROLES),
    users.list_users, users.create_user, users.update_user)
INDEPENDENT_ACCOUNTS = Accounts(
    Action.INDEPENDENT_ACCOUNTS_MANAGE, "Oversight members and councillors",
    "staff_admin_independent", "staff_admin_add_independent",
    "staff_admin_change_independent", INDEPENDENT_ROLES, users.list_independent_accounts,
    users.create_independent_account, users.update_independent_account)


def _users(request: Request, actor: Actor, accounts: Accounts,
           errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
           status_code: int = 200, code: tuple[str, str] | None = None) -> Response:
    p = platform_of(request)
    # Oversight's page also lists the changes waiting for a countersignature.
    waiting = (users.held_changes(p, actor)
               if may(actor.role, Action.ACCOUNT_CHANGE_COUNTERSIGN) else [])
    return staff_render(request, actor, "staff_admin_users.html", {
        "accounts": accounts, "people": accounts.people(p, actor), "waiting": waiting,
        "roles": [r.value for r in ordered(accounts.roles)], "errors": errors or {},
        "values": values or {}, "notice": notice_of(request), "code": code,
        "me": actor.audit_name},
        status_code=status_code)


def _page(action: Action,
          render: Callable[[Request, Actor], Response]) -> Callable[[Request], Response]:
    """A page for whoever may take ``action``, rendered by ``render``."""
    def page(request: Request) -> Response:
        actor = staff_page(request, action)
        if isinstance(actor, Response):
            return actor
        return render(request, actor)
    return page


def _add_person(accounts: Accounts) -> Callable[[Request], Response]:
    def add(request: Request) -> Response:
        checked = staff_form(request, accounts.action)
        if isinstance(checked, Response):
            return checked
        actor, form = checked
        reader = FormReader(form)
        data = reader.build(UserIn, {"username": reader.text("username"),
                                     "password": reader.text("password"),
                                     "role": reader.text("role"),
                                     "areas": reader.lines("areas")})
        if data is not None:
            try:
                user = accounts.create(platform_of(request), actor, data)
            except GovernanceError as exc:
                field, message = service_problem(exc)
                reader.problems[field] = message
                return _users(request, actor, accounts, reader.problems, reader.values,
                              problem_status(exc))
            return done(request, accounts.page,
                        "user_added_held" if user.held_change else "user_added")
        values = {k: v for k, v in reader.values.items() if k != "password"}  # never echoed
        return _users(request, actor, accounts, reader.problems, values, 422)
    return add


def _person_form(request: Request,
                       action: Action) -> tuple[Actor, FormReader, int] | Response:
    """A form posted about one person (``user_id`` in the path): ``form_about``, its
    form ready to read."""
    posted = form_about(request, action, "user_id", "person")
    if isinstance(posted, Response):
        return posted
    actor, form, user_id = posted
    return actor, FormReader(form), user_id


def _change_person(accounts: Accounts) -> Callable[[Request], Response]:
    def change(request: Request) -> Response:
        posted = _person_form(request, accounts.action)
        if isinstance(posted, Response):
            return posted
        actor, reader, user_id = posted
        patch: dict[str, Any] = {"role": reader.text("role") or None,
                                 "active": reader.text("active") == "yes"}
        if patch["role"] == "councillor":
            patch["areas"] = reader.lines("areas")
        data = reader.build(UserPatch, patch)
        if data is not None:
            try:
                user = accounts.update(platform_of(request), actor, user_id, data)
            except GovernanceError as exc:
                return _users(request, actor, accounts,
                              {f"user-{user_id}": service_problem(exc)[1]},
                              status_code=problem_status(exc))
            return done(request, accounts.page,
                        "user_change_held" if user.held_change else "user_changed",
                        f"#user-{user_id}")
        return _users(request, actor, accounts,
                      {f"user-{user_id}": "; ".join(reader.problems.values())},
                      status_code=422)
    return change


def _decide_change(countersign: bool) -> Callable[[Request], Response]:
    """Oversight countersigns, or refuses with a reason, the admin's change waiting on an
    account (the one it read: the form carries its id)."""
    def decide(request: Request) -> Response:
        posted = _person_form(request, Action.ACCOUNT_CHANGE_COUNTERSIGN)
        if isinstance(posted, Response):
            return posted
        actor, reader, user_id = posted
        data = reader.build(AccountChangeIn, {"change_id": reader.text("change_id"),
                                              "reason": reader.text("reason")})
        try:
            if data is None:
                raise InvalidInput("reason", "; ".join(reader.problems.values()))
            if countersign:
                signed = users.countersign_change(platform_of(request), actor, user_id,
                                                  data.change_id)
                if signed.first_login_code is not None:
                    # Shown once, on this response only (no redirect: it is never stored).
                    return _users(request, actor, INDEPENDENT_ACCOUNTS,
                                  code=(signed.user.username, signed.first_login_code))
            else:
                users.refuse_change(platform_of(request), actor, user_id, data.change_id,
                                    data.reason)
        except GovernanceError as exc:
            return _users(request, actor, INDEPENDENT_ACCOUNTS,
                          {f"held-{user_id}": service_problem(exc)[1]},
                          status_code=problem_status(exc))
        return done(request, INDEPENDENT_ACCOUNTS.page,
                    "change_countersigned" if countersign else "change_refused")
    return decide


# --- API keys -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    """One page of API keys: engine nodes' (the admin's) or audit tools' (oversight's)."""

    action: Action
    title: str
    page: str
    create: str
    revoke: str
    for_nodes: bool  # the form asks which deployment a node's key is for
    listed: Callable[[Platform, Actor], list[Any]]
    read: Callable[[FormReader], Any]  # the form as the service's input, or None
    issue: Callable[[Platform, Actor, Any], users.NewApiKey]
    revoked: Callable[[Platform, Actor, int], Any]
    issuer: Action  # who may issue one (a node's key: not the admin who lists them)


NODE_KEYS = Keys(
    Action.API_KEYS_MANAGE, "API keys", "staff_admin_keys", "staff_admin_create_key",
    "staff_admin_revoke_key", True, users.list_api_keys,
    lambda reader: reader.build(ApiKeyIn, {"name": reader.text("name"), "role": "node",
                                           "deployment_id": reader.optional("deployment_id")}),
    users.create_api_key, users.revoke_api_key, Action.NODE_KEY_ISSUE)
AUDIT_KEYS = Keys(
    Action.AUDIT_KEYS_MANAGE, "Audit tools' keys", "staff_admin_audit_keys",
    "staff_admin_create_audit_key", "staff_admin_revoke_audit_key", False,
    users.list_audit_keys,
    lambda reader: reader.build(AuditKeyIn, {"name": reader.text("name")}),
    users.create_audit_key, users.revoke_audit_key, Action.AUDIT_KEYS_MANAGE)


def _keys(request: Request, actor: Actor, keys: Keys, errors: dict[str, str] | None = None,
          values: dict[str, str] | None = None, secret: str | None = None,
          status_code: int = 200) -> Response:
    listed = keys.listed(platform_of(request), actor)
    # Keys issued under an older rule, which no longer work: the services say why.
    retired = {k.id: why for k in listed
               if (why := users.retired_because(k.role, k.deployment_id)) is not None}
    # What each node key delivered: a key found leaked or misused shows what it sent.
    sent = users.key_deliveries(platform_of(request), actor) if keys.for_nodes else {}
    return staff_render(request, actor, "staff_admin_keys.html", {
        "page": keys, "keys": listed, "retired": retired, "secret": secret, "sent": sent,
        "errors": errors or {}, "values": values or {}, "notice": notice_of(request)},
        status_code=status_code)


def _create_key(keys: Keys) -> Callable[[Request], Response]:
    def create(request: Request) -> Response:
        checked = staff_form(request, keys.issuer)
        if isinstance(checked, Response):
            return checked
        actor, form = checked
        reader = FormReader(form)
        data = keys.read(reader)
        if data is None:
            return _keys(request, actor, keys, reader.problems, reader.values,
                         status_code=422)
        try:
            new = keys.issue(platform_of(request), actor, data)
        except GovernanceError as exc:
            field, message = service_problem(exc)
            return _keys(request, actor, keys, {field: message}, reader.values,
                         status_code=problem_status(exc))
        if new.secret is None:  # a node key: the operator who confirms it is shown it
            return done(request, keys.page, "key_issued", f"#key-{new.key.id}")
        # Shown once, on this response only (no redirect: the secret is never stored).
        return _keys(request, actor, keys, secret=new.secret, status_code=201)
    return create


def _key_button(keys: Keys, action: Action, use_case: Callable[[Platform, Actor, int], Any],
                notice: str) -> Callable[[Request], Response]:
    """A button on one key (``key_id`` in the path): revoke it, or confirm a node's."""
    def press(request: Request) -> Response:
        checked = staff_form(request, action)
        if isinstance(checked, Response):
            return checked
        actor, _ = checked
        key_id = path_id(request, "key_id")
        try:
            result = use_case(platform_of(request), actor, key_id or 0)
        except GovernanceError as exc:
            return _keys(request, actor, keys, {FORM: service_problem(exc)[1]},
                         status_code=problem_status(exc))
        secret = getattr(result, "secret", None)
        if secret is not None:  # a confirmed node key's: shown once, on this response
            return _keys(request, actor, keys, secret=secret)
        return done(request, keys.page, notice, f"#key-{key_id}")
    return press


# --- the technology register ----------------------------------------------------------------


def register_page(request: Request) -> Response:
    actor = staff_page(request, Action.TECHNOLOGY_REGISTER)
    if isinstance(actor, Response):
        return actor
    return staff_render(request, actor, "staff_admin_register.html", {
        "entries": technology.register_entries(platform_of(request)),
        "notice": notice_of(request), "errors": {}})


def _entry_form(request: Request, actor: Actor, entry: technology.RegisterEntry | None,
                values: dict[str, str], errors: dict[str, str],
                status_code: int = 200) -> Response:
    return staff_render(request, actor, "staff_admin_entry.html", {
        "entry": entry, "values": values, "errors": errors, "sections": atrs.SECTIONS,
        "phases": ["pre-deployment", "beta/pilot", "production", "retired"]},
        status_code=status_code)


ENGINE_FIELDS = ("algorithm", "model_version", "vendor_or_project", "default_threshold",
                 "notes")
ATRS_TEXT_FIELDS = tuple(key for _, rows in atrs.SECTIONS for key, _ in rows)


def _values_of(entry: technology.RegisterEntry) -> dict[str, str]:
    t = entry.technology
    fields = atrs.fields_of(t.atrs)
    values = {k: str(getattr(t, k)) for k in ENGINE_FIELDS}
    values.update({k: str(getattr(fields, k)) for k in ATRS_TEXT_FIELDS})
    values["impact_assessments"] = "\n".join(
        " | ".join([a.name, a.completed_on.isoformat() if a.completed_on else "", a.link,
                    a.description]).rstrip(" |") for a in fields.impact_assessments)
    values["risks"] = "\n".join(" | ".join([r.name, r.description, r.mitigation]).rstrip(" |")
                                for r in fields.risks)
    return values


def _parts(line: str, names: tuple[str, ...]) -> dict[str, str]:
    return {k: v.strip() for k, v in zip(names, line.split("|"), strict=False) if v.strip()}


def _entry_data(reader: FormReader) -> Any:
    """The form as RegisterEntryIn: engine fields, ATRS text fields, one impact assessment
    per line (name | date | link | description), one risk per line (name | description |
    mitigation), and the reason for the change."""
    body: dict[str, Any] = {k: reader.text(k) for k in ENGINE_FIELDS}
    body["atrs"] = {
        **{k: reader.text(k) for k in ATRS_TEXT_FIELDS},
        "impact_assessments": [
            {**_parts(line, ("name", "completed_on", "link", "description"))}
            for line in reader.lines("impact_assessments")],
        "risks": [_parts(line, ("name", "description", "mitigation"))
                  for line in reader.lines("risks")]}
    body["reason"] = reader.text("reason")
    data = reader.build(atrs.RegisterEntryIn, body)
    if "atrs" in reader.problems:  # name the ATRS field itself, next to its box
        message = reader.problems.pop("atrs")
        field, _, rest = message.partition(": ")
        reader.problems[field if field in reader.values else "atrs"] = rest or message
    return data


def new_entry_page(request: Request) -> Response:
    actor = staff_page(request, Action.TECHNOLOGY_REGISTER)
    if isinstance(actor, Response):
        return actor
    facts = technology.engine_facts()
    return _entry_form(request, actor, None, {
        "algorithm": facts.algorithm, "model_version": facts.model_id,
        "vendor_or_project": "openlfr", "default_threshold": str(facts.default_threshold)}, {})


def save_entry(request: Request) -> Response:
    checked = staff_form(request, Action.TECHNOLOGY_REGISTER)
    if isinstance(checked, Response):
        return checked
    actor, form = checked
    p = platform_of(request)
    technology_id = path_id(request, "technology_id") if "technology_id" in \
        request.path_params else None
    entry = None
    if technology_id is not None:
        try:
            entry = technology.register_entry(p, technology_id)
        except GovernanceError:
            return not_found(request, f"no technology register entry {technology_id}")
    reader = FormReader(form)
    data = _entry_data(reader)
    if data is None:
        return _entry_form(request, actor, entry, reader.values, reader.problems, 422)
    try:
        if entry is None:
            t = technology.register_technology(p, actor, data)
        else:
            t = technology.update_technology(p, actor, entry.technology.id, data)
    except GovernanceError as exc:
        field, message = service_problem(exc)
        return _entry_form(request, actor, entry, reader.values, {field: message},
                           problem_status(exc))
    return done(request, "staff_admin_register", "entry_published", f"#technology-{t.id}")


def edit_entry_page(request: Request) -> Response:
    actor = staff_page(request, Action.TECHNOLOGY_REGISTER)
    if isinstance(actor, Response):
        return actor
    technology_id = path_id(request, "technology_id")
    try:
        entry = technology.register_entry(platform_of(request), technology_id or 0)
    except GovernanceError:
        return not_found(request, f"no technology register entry {technology_id}")
    return _entry_form(request, actor, entry, _values_of(entry), {})


# --- settings and the audit log -------------------------------------------------------------


def settings_page(request: Request) -> Response:
    actor = staff_page(request, Action.SETTINGS_READ)
    if isinstance(actor, Response):
        return actor
    return staff_render(request, actor, "staff_admin_settings.html", {
        "settings": admin.settings_in_force(platform_of(request), actor)})


def audit_page(request: Request) -> Response:
    actor = staff_page(request, Action.AUDIT_LOG_READ)
    if isinstance(actor, Response):
        return actor
    p = platform_of(request)
    verification = audit_log.verify(p, actor)
    last = verification.events_checked
    events = audit_log.list_events(p, actor, after_seq=max(0, last - AUDIT_PAGE_EVENTS),
                                   limit=AUDIT_PAGE_EVENTS)
    return staff_render(request, actor, "staff_admin_audit.html", {
        "verification": verification, "events": list(reversed(events))})


BASE = "/staff/admin"


def _key_routes(path: str, keys: Keys) -> list[StaffRoute]:
    """A keys page, its issue form and each key's revoke button."""
    return [
        StaffRoute(f"{BASE}/{path}", _page(keys.action, lambda r, a: _keys(r, a, keys)),
                   action=keys.action, methods=["GET"], name=keys.page),
        StaffRoute(f"{BASE}/{path}", _create_key(keys), action=keys.issuer,
                   methods=["POST"], name=keys.create),
        StaffRoute(f"{BASE}/{path}/{{key_id:int}}/revoke",
                   _key_button(keys, keys.action, keys.revoked, "key_revoked"),
                   action=keys.action, methods=["POST"], name=keys.revoke),
    ]


def _account_routes(path: str, accounts: Accounts) -> list[StaffRoute]:
    """An accounts page, its add form and its change form."""
    return [
        StaffRoute(f"{BASE}/{path}", _page(accounts.action,
                                             lambda r, a: _users(r, a, accounts)),
                   action=accounts.action, methods=["GET"], name=accounts.page),
        StaffRoute(f"{BASE}/{path}", _add_person(accounts), action=accounts.action,
                   methods=["POST"], name=accounts.add),
        StaffRoute(f"{BASE}/{path}/{{user_id:int}}", _change_person(accounts),
                   action=accounts.action, methods=["POST"], name=accounts.change),
    ]


routes = [
    StaffRoute(BASE, admin_home, action=Action.SETTINGS_READ, methods=["GET"],
               name="staff_admin"),
    StaffRoute(f"{BASE}/api-keys/{{key_id:int}}/confirm",
               _key_button(NODE_KEYS, Action.NODE_KEY_CONFIRM, users.confirm_api_key,
                           "key_confirmed"),
               action=Action.NODE_KEY_CONFIRM, methods=["POST"], name="staff_admin_confirm_key"),
    StaffRoute(f"{BASE}/account-changes/{{user_id:int}}/countersign", _decide_change(True),
               action=Action.ACCOUNT_CHANGE_COUNTERSIGN, methods=["POST"],
               name="staff_admin_countersign_change"),
    StaffRoute(f"{BASE}/account-changes/{{user_id:int}}/refuse", _decide_change(False),
               action=Action.ACCOUNT_CHANGE_COUNTERSIGN, methods=["POST"],
               name="staff_admin_refuse_change"),
    *_account_routes("users", STAFF_ACCOUNTS),
    *_account_routes("independent-accounts", INDEPENDENT_ACCOUNTS),
    *_key_routes("api-keys", NODE_KEYS),
    *_key_routes("audit-keys", AUDIT_KEYS),
    StaffRoute(f"{BASE}/register", register_page, action=Action.TECHNOLOGY_REGISTER,
               methods=["GET"], name="staff_admin_register"),
    StaffRoute(f"{BASE}/register/new", new_entry_page, action=Action.TECHNOLOGY_REGISTER,
               methods=["GET"], name="staff_admin_new_entry"),
    StaffRoute(f"{BASE}/register/new", save_entry, action=Action.TECHNOLOGY_REGISTER,
               methods=["POST"], name="staff_admin_add_entry"),
    StaffRoute(f"{BASE}/register/{{technology_id:int}}", edit_entry_page,
               action=Action.TECHNOLOGY_REGISTER, methods=["GET"],
               name="staff_admin_edit_entry"),
    StaffRoute(f"{BASE}/register/{{technology_id:int}}", save_entry,
               action=Action.TECHNOLOGY_REGISTER, methods=["POST"],
               name="staff_admin_save_entry"),
    StaffRoute(f"{BASE}/settings", settings_page, action=Action.SETTINGS_READ,
               methods=["GET"], name="staff_admin_settings"),
    StaffRoute(f"{BASE}/audit", audit_page, action=Action.AUDIT_LOG_READ, methods=["GET"],
               name="staff_admin_audit"),
]
