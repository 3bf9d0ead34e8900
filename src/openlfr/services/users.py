"""Use cases for people (password login, sessions) and engine nodes (API keys)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from openlfr.audit import append_event, lock_head
from openlfr.governance.areas import UnknownArea
from openlfr.governance.errors import Conflict, GovernanceError, InvalidInput, NotFound
from openlfr.governance.roles import (
    HELD_CHANGE_DAYS,
    INDEPENDENT_ROLES,
    held_for_countersign,
    require_second_person,
)
from openlfr.services.common import get_or_404
from openlfr.services.gazetteer import gazetteer_for
from openlfr.services.platform import RESERVED_NAMES, Actor, PermissionDenied, Platform, Role
from openlfr.services.powers import Action, may, refusal, require
from openlfr.services.schemas import ApiKeyIn, AuditKeyIn, UserIn, UserPatch
from openlfr.settings import new_token
from openlfr.storage import models as m

_hasher = PasswordHasher()
API_KEY_PREFIX = "olfr_"
# Verified against when the username is unknown, so timing does not reveal which exist.
_DUMMY_HASH = _hasher.hash("not a real password, only for constant-time failure")


class LoginFailed(GovernanceError):
    """Wrong username or password (deliberately not saying which)."""


class WrongFirstLoginCode(LoginFailed):
    """The right password (one someone else chose) with a wrong code from oversight: whoever
    tries knows the admin's password, so each try is in the audit log."""

    def __init__(self, user_id: int) -> None:
        super().__init__("wrong username, password or code from oversight")
        self.user_id = user_id


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def councillor_areas(p: Platform, role: str, areas: list[str]) -> list[str]:
    """A councillor's areas as gazetteer codes: required for a councillor (they act only
    for them), refused for every other role (theirs are not limited by area)."""
    if role != Role.COUNCILLOR.value:
        if areas:
            raise InvalidInput("areas", f"only a councillor has areas; a {role} acts for "
                               "every area, so leave areas out")
        return []
    if not areas:
        raise InvalidInput("areas", "a councillor acts for one or more areas: give at least "
                           "one borough or ward from the gazetteer")
    g = gazetteer_for(p.settings)
    codes = []
    for n, text in enumerate(areas):
        try:
            codes.append(g.resolve(text).code)
        except UnknownArea as exc:
            raise InvalidInput("areas", f"area {n + 1}: {exc}") from None
    return list(dict.fromkeys(codes))


def create_user(p: Platform, actor: Actor, data: UserIn) -> m.User:
    """Add a person with a role (a councillor with their areas); the password is stored
    as an argon2 hash. An admin's new account cannot log in until oversight countersigns
    it (``countersign_change``); the platform's own command line adds accounts at once
    (bootstrap). Oversight members and councillors are added by oversight
    (``create_independent_account``), or by the command line."""
    require(actor, Action.USERS_MANAGE)
    _refuse_independent(actor, Role(data.role))
    return _create(p, actor, data, held=not actor.is_system)


def create_independent_account(p: Platform, actor: Actor, data: UserIn) -> m.User:
    """Oversight adds an oversight member or a councillor (with their areas): the accounts
    that hold the force to account are not the force's admin's to make. The account cannot
    log in until another member of oversight countersigns it (``countersign_change``): no
    one member makes a colleague, or a councillor, they could log in as. The command line
    adds accounts at once (bootstrap: the first two members of oversight)."""
    require(actor, Action.INDEPENDENT_ACCOUNTS_MANAGE)
    _require_independent_role(Role(data.role))
    return _create(p, actor, data, held=not actor.is_system)


def _refuse_independent(actor: Actor, *roles: Role) -> None:
    """An admin may not make, change or reset the account of an oversight member or a
    councillor (``INDEPENDENT_ROLES``); the platform's command line may (bootstrap)."""
    if actor.is_system:
        return
    for role in roles:
        if role in INDEPENDENT_ROLES:
            raise PermissionDenied(
                f"the accounts of oversight members and councillors are managed by "
                f"oversight ({refusal(actor.role, Action.INDEPENDENT_ACCOUNTS_MANAGE)}): an "
                "admin who could make one could sign both halves of a two-person override")


def _require_independent_role(role: Role) -> None:
    if role not in INDEPENDENT_ROLES:
        raise InvalidInput("role", f"oversight manages only the accounts of "
                           f"{' and '.join(r.value for r in INDEPENDENT_ROLES)}; "
                           f"{_a(role.value)} is managed by an admin")


def _a(role: str) -> str:
    """The role with its article: "an admin", "a councillor"."""
    return f"{'an' if role[0] in 'aeiou' else 'a'} {role}"


def _create(p: Platform, actor: Actor, data: UserIn, held: bool = False) -> m.User:
    if data.username in RESERVED_NAMES:
        raise InvalidInput("username", f"{data.username!r} is the name the audit log gives "
                           "the platform itself; choose another")
    areas = councillor_areas(p, data.role, data.areas)
    now = p.clock()
    try:
        with p.sessions.begin() as s:
            if s.scalar(select(m.User).where(m.User.username == data.username)):
                raise Conflict(f"user {data.username!r} already exists")
            user = m.User(username=data.username, password_hash=_hasher.hash(data.password),
                          role=data.role, active=not held, created_at=now, areas=areas,
                          held_change=_held(actor, now, ["created"], active=True)
                          if held else None,
                          # The admin chose the password: the first login will need a
                          # code that only oversight is given (countersign_change).
                          first_login_code_hash="" if held else None,
                          password_set_by=actor.audit_name if held else None)
            s.add(user)
            s.flush()
            append_event(s, actor=actor.audit_name, action="user.created", subject_type="user",
                         subject_id=user.id, details={"username": user.username,
                                                      "role": user.role, "areas": areas,
                                                      "awaits_countersignature": held},
                         now=now)
    except IntegrityError:  # a concurrent create of the same name
        raise Conflict(f"user {data.username!r} already exists") from None
    return user


def list_users(p: Platform, actor: Actor) -> list[m.User]:
    require(actor, Action.USERS_MANAGE)
    with p.sessions() as s:
        return list(s.scalars(select(m.User).order_by(m.User.username)))


def update_user(p: Platform, actor: Actor, user_id: int, data: UserPatch) -> m.User:
    """Change a person's role, deactivate them, or reset their password. Deactivation is
    at once and ends their sessions; a new role, a new password or a reactivation waits
    for oversight's countersignature (``governance.roles.held_for_countersign``), and a
    later request replaces one still waiting. The command line changes at once. Not an
    oversight member's or a councillor's, nor to those roles
    (``update_independent_account``)."""
    require(actor, Action.USERS_MANAGE)

    def check(user: m.User, changes: dict[str, Any]) -> None:
        _refuse_independent(actor, Role(user.role), Role(changes.get("role") or user.role))
        if user.id == actor.user_id and (changes.get("active") is False
                                         or changes.get("role", "admin") != "admin"):
            raise Conflict("you cannot deactivate yourself or drop your own admin role; ask "
                           "another admin")

    return _update(p, actor, user_id, data, check, hold=not actor.is_system)


def update_independent_account(p: Platform, actor: Actor, user_id: int,
                               data: UserPatch) -> m.User:
    """Oversight changes an oversight member's or a councillor's role (between those two)
    or areas, deactivates them, or resets their password. As with an admin's change
    (``update_user``), a deactivation is at once and the rest waits, here for another
    member of oversight's countersignature."""
    require(actor, Action.INDEPENDENT_ACCOUNTS_MANAGE)

    def check(user: m.User, changes: dict[str, Any]) -> None:
        _require_independent_role(Role(user.role))
        _require_independent_role(Role(changes.get("role") or user.role))
        leaves = changes.get("active") is False or (
            changes.get("role") or Role.OVERSIGHT.value) != Role.OVERSIGHT.value
        if user.id == actor.user_id and leaves:
            raise Conflict("you cannot deactivate yourself or leave oversight; ask another "
                           "member of oversight")
        if leaves and user.active and user.role == Role.OVERSIGHT.value:
            _require_two_left(user)

    return _update(p, actor, user_id, data, check, hold=not actor.is_system)


def _require_two_left(leaving: m.User) -> None:
    """Oversight keeps two active members who have logged in (chosen their own password):
    what one asks for, another countersigns, so one member who removed the others would
    hold every account change alone, with nobody to sign anyone back. Checked when the
    change is asked for and again when it is countersigned."""
    s = object_session(leaving)  # the change's own transaction
    assert s is not None
    # Two removals at once must not both count the other as staying (PostgreSQL: each
    # locks only its own member's row): the audit log's head serialises them, as it does
    # every writer; taken after that row, as every writer does.
    lock_head(s)
    others = s.scalar(select(func.count()).select_from(m.User).where(
        m.User.role == Role.OVERSIGHT.value, m.User.active.is_(True),
        m.User.first_login_code_hash.is_(None), m.User.id != leaving.id)) or 0
    if others < 2:
        raise Conflict(f"{leaving.username} is one of the last two active members of "
                       "oversight: without two, nobody countersigns what the other asks. Add "
                       "a member first (another member countersigns them), or use the "
                       "platform's command line")


def list_independent_accounts(p: Platform, actor: Actor) -> list[m.User]:
    """The accounts oversight manages."""
    require(actor, Action.INDEPENDENT_ACCOUNTS_MANAGE)
    with p.sessions() as s:
        return list(s.scalars(select(m.User).where(
            m.User.role.in_([r.value for r in INDEPENDENT_ROLES])).order_by(m.User.username)))


def _update(p: Platform, actor: Actor, user_id: int, data: UserPatch,
            check: Callable[[m.User, dict[str, Any]], None], hold: bool = False) -> m.User:
    now = p.clock()
    changes = data.model_dump(exclude_unset=True)
    with p.sessions.begin() as s:
        user = get_or_404(s, m.User, user_id, "user", lock=True)  # one change at a time
        check(user, changes)
        if changes.get("active") is False and user.held_change:
            # Deactivation withdraws what waited: oversight cannot sign it back to life.
            append_event(s, actor=actor.audit_name, action="user.change_withdrawn",
                         subject_type="user", subject_id=user.id,
                         details={"change": user.held_change["id"],
                                  "fields": user.held_change["fields"]}, now=now)
            user.held_change = None
        if hold:  # a field set to what it is already changes nothing
            changes = {k: v for k, v in changes.items()
                       if not (k in ("role", "active") and v == getattr(user, k))}
            changes.pop("areas", None)
            if data.areas is not None or "role" in changes:  # as they would be, checked now
                areas = _areas_after(p, user, changes.get("role") or user.role, data.areas)
                if areas != list(user.areas or ()):
                    changes["areas"] = areas
            held = held_for_countersign(changes)
            if held:
                return _hold(s, actor, user, changes, held, now)
        for key in ("role", "active"):
            if changes.get(key) is not None:
                setattr(user, key, changes[key])
        if "role" in changes or "areas" in changes:
            user.areas = _areas_after(p, user, user.role, data.areas)
        if data.password is not None:
            user.password_hash = _hasher.hash(data.password)
        _end_sessions(s, actor, user, now)
        append_event(s, actor=actor.audit_name, action="user.updated", subject_type="user",
                     subject_id=user.id,
                     details={"fields": sorted(changes), "role": user.role,
                              "active": user.active}, now=now)
    return user


def _areas_after(p: Platform, user: m.User, role: str, given: list[str] | None) -> list[str]:
    """The person's areas once they hold ``role``: those ``given``, else a councillor's
    own (none for any other role)."""
    areas = given if given is not None else (
        list(user.areas or ()) if role == Role.COUNCILLOR.value else [])
    return councillor_areas(p, role, areas)


def _held(actor: Actor, now: datetime, fields: list[str], **sets: Any) -> dict[str, Any]:
    """A change held for its countersignature: what it is and what it sets."""
    return {"id": new_token()[:16], "fields": fields, **sets,
            "requested_by": actor.audit_name, "requested_at": now.isoformat()}


def _hold(s: Session, actor: Actor, user: m.User, changes: dict[str, Any], fields: list[str],
          now: datetime) -> m.User:
    """Hold a change (``_update``) for its countersignature; a deactivation asked with it
    is at once."""
    sets: dict[str, Any] = {}
    if changes.get("role") is not None:
        sets["role"] = changes["role"]
    if changes.get("areas") is not None:
        sets["areas"] = changes["areas"]
    if changes.get("active"):
        sets["active"] = True
    replaced = user.held_change
    if user.first_login_code_hash == "" and (changes.get("active") or (
            replaced and "created" in replaced["fields"])):
        # A new account never countersigned stays one (however it was withdrawn, refused
        # or asked again, and by whom): oversight is asked to sign a new account, never a
        # "reactivation" of one that was never live.
        fields = ["created", *(f for f in fields if f not in ("created", "active"))]
        sets["active"] = True
    if replaced and changes.get("password") is None and "password_hash" not in replaced \
            and replaced["fields"] == fields and all(replaced.get(k) == v
                                                     for k, v in sets.items()):
        return user  # asked again as it waits: the change oversight may be reading stays
    if changes.get("password") is not None:
        sets["password_hash"] = _hasher.hash(changes["password"])
    user.held_change = _held(actor, now, fields, **sets)
    if changes.get("active") is False:
        user.active = False
        _end_sessions(s, actor, user, now)
    append_event(s, actor=actor.audit_name, action="user.change_requested",
                 subject_type="user", subject_id=user.id,
                 details={"fields": fields, "role": sets.get("role"), "active": user.active,
                          "replaces": replaced["id"] if replaced else None},
                 now=now)
    return user


def _end_sessions(s: Session, actor: Actor, user: m.User, now: datetime) -> None:
    """After a change to the person: their sessions end; and the node keys they issued
    are revoked once they may no longer issue one (deactivated, or another role), so no
    key outlives its issuer's power."""
    s.execute(delete(m.LoginSession).where(m.LoginSession.user_id == user.id))
    if user.active and may(Role(user.role), Action.NODE_KEY_ISSUE):
        return
    for key in s.scalars(select(m.ApiKey).where(
            m.ApiKey.created_by == user.username, m.ApiKey.role == Role.NODE.value,
            m.ApiKey.revoked_at.is_(None))):
        key.revoked_at = now
        sent = _deliveries(s, key.id).get(key.id, Delivered())
        append_event(s, actor=actor.audit_name, action="api_key.revoked",
                     subject_type="api_key", subject_id=key.id,
                     details={"why": f"{user.username}, who issued it, may no longer issue "
                                     "node keys", "alerts_delivered": sent.alerts,
                              "counter_batches_delivered": sent.counter_batches}, now=now)


def held_changes(p: Platform, actor: Actor) -> list[m.User]:
    """The accounts whose change (an admin's, or a member of oversight's) waits for a
    countersignature, oldest request first."""
    require(actor, Action.ACCOUNT_CHANGE_COUNTERSIGN)
    with p.sessions() as s:
        waiting = list(s.scalars(select(m.User).where(m.User.held_change.is_not(None))))
    return sorted(waiting, key=lambda u: str((u.held_change or {}).get("requested_at")))


@dataclass(frozen=True)
class Countersigned:
    user: m.User
    first_login_code: str | None = field(default=None, repr=False)
    """Shown once, to the countersigner, when the change puts a password someone else chose
    in force (a new account, a reset): the person's first login needs it (``log_in``), so
    whoever asked, who knows the password, never holds a working login alone. Only its hash
    is kept."""


def countersign_change(p: Platform, actor: Actor, user_id: int,
                       change_id: str) -> Countersigned:
    """A member of oversight countersigns the change that waits on the account (an
    admin's, or another member of oversight's), named by its id (what they read: a change
    replaced meanwhile is not signed unseen); it takes effect now and ends the person's
    sessions."""
    require(actor, Action.ACCOUNT_CHANGE_COUNTERSIGN)
    now = p.clock()
    code = None
    with p.sessions.begin() as s:
        # The countersigner and whoever asked as they stand now (a removal of either
        # waits, or goes first and this is refused), and the account, locked in the order
        # of their ids (two signatures whose people cross, each asked by the other's
        # account, must not each hold one row and wait for the other), then the audit
        # head: every writer's order.
        asker_id = _asker_id(s, user_id, change_id)
        _lock_in_order(s, user_id, actor.user_id, asker_id)
        me = s.get(m.User, actor.user_id) if actor.user_id is not None else None
        if me is None or not me.active or me.role != Role.OVERSIGHT.value:
            raise Conflict("only an active member of oversight countersigns; your account "
                           "is not one now")
        user, held = _waiting(s, user_id, change_id)
        require_second_person(held["requested_by"], actor.audit_name, "a change to an account",
                              "a member of oversight")
        if user.id == actor.user_id:
            raise Conflict("a change to your own account is countersigned by another member "
                           "of oversight")
        _require_asker_still_may(s, user, held, asker_id)
        code_due = "password_hash" in held or user.first_login_code_hash == ""
        if user.active and user.role == Role.OVERSIGHT.value and (code_due or held.get(
                "role", Role.OVERSIGHT.value) != Role.OVERSIGHT.value):
            # A move out of oversight, or a reset (until its first login the member is
            # not counted): asked for when more were active.
            _require_two_left(user)
        asked = datetime.fromisoformat(held["requested_at"])
        if now - asked > timedelta(days=HELD_CHANGE_DAYS):
            raise Conflict(f"the change waiting on {user.username!r} was asked for on "
                           f"{asked.date().isoformat()}, more than {HELD_CHANGE_DAYS} days "
                           "ago: refuse it, and whoever asked asks again if it still stands")
        # Whoever chose the password this change puts in force (its own reset, or the new
        # account's) is never also given the code its first login needs.
        setter = held["requested_by"] if "password_hash" in held else user.password_set_by
        if code_due and setter == actor.audit_name:
            raise Conflict(f"{setter} chose the password this change puts in force: the code "
                           "its first login needs goes to another member of oversight")
        if "role" in held:
            user.role = held["role"]
        if "areas" in held:
            user.areas = held["areas"]
        if held.get("active"):
            user.active = True
        if "password_hash" in held:
            user.password_hash = held["password_hash"]
            user.password_set_by = held["requested_by"]
        # A password the admin chose comes into force (this change's, or the new
        # account's however the admin asked since: withdrawn and reactivated, refused and
        # asked again): oversight is given the code its first login needs.
        if code_due:
            code = new_token()[:16]
            user.first_login_code_hash = _sha256(code)
        user.held_change = None
        _end_sessions(s, actor, user, now)
        append_event(s, actor=actor.audit_name, action="user.change_countersigned",
                     subject_type="user", subject_id=user.id,
                     details={"change": change_id, "fields": held["fields"],
                              "requested_by": held["requested_by"],
                              "requested_at": held["requested_at"], "role": user.role,
                              "active": user.active,
                              "first_login_code_given": code is not None}, now=now)
    return Countersigned(user, code)


def _asker_id(s: Session, user_id: int, change_id: str) -> int | None:
    """Who asked for the change ``change_id`` waiting on the account (read unlocked: once
    the rows are locked, ``_waiting`` checks the change is still that one, and so its
    asker)."""
    held = s.scalar(select(m.User.held_change).where(m.User.id == user_id))
    if not held or held.get("id") != change_id:
        return None
    return s.scalar(select(m.User.id).where(m.User.username == held["requested_by"]))


def _lock_in_order(s: Session, account_id: int, *readers: int | None) -> None:
    """Lock the account's row to change it and the ``readers``' rows to read, in the
    order of their ids."""
    for user_id in sorted({account_id, *(r for r in readers if r is not None)}):
        s.execute(select(m.User.id).where(m.User.id == user_id)
                  .with_for_update(read=user_id != account_id))


def _require_asker_still_may(s: Session, user: m.User, held: dict[str, Any],
                             asker_id: int | None) -> None:
    """Whoever asked for a held change (``held``, found as ``asker_id`` by ``_asker_id``)
    must still hold the power they asked with when it is countersigned: a change asked for
    by someone since deactivated, or moved to a role that may not ask for it, is only
    refused (or withdrawn by them, if they may again). Their row is locked
    (``countersign_change``), so their removal and this countersignature do not both go
    through."""
    power = (Action.INDEPENDENT_ACCOUNTS_MANAGE if Role(user.role) in INDEPENDENT_ROLES
             else Action.USERS_MANAGE)
    asker = s.get(m.User, asker_id) if asker_id is not None else None
    if asker is None or not asker.active or not may(Role(asker.role), power):
        now_is = ("no longer has an account" if asker is None else
                  "is no longer active" if not asker.active else
                  f"holds the role {asker.role}, which may not ask for a change to "
                  f"{_a(user.role)}'s account")
        raise Conflict(f"{held['requested_by']}, who asked for this change, {now_is}: "
                       "refuse it, and whoever may asks again if it still stands")


def refuse_change(p: Platform, actor: Actor, user_id: int, change_id: str,
                  reason: str) -> m.User:
    """A member of oversight refuses the change that waits on the account (named by its
    id), with a reason kept in the audit log; nothing of it takes effect (a refused new
    account stays unable to log in). Whoever asked for it may withdraw it so too."""
    require(actor, Action.ACCOUNT_CHANGE_COUNTERSIGN)
    if not reason.strip():
        raise InvalidInput("reason", "say why the change is refused; whoever asked for it "
                           "reads it in the audit log")
    now = p.clock()
    with p.sessions.begin() as s:
        user, held = _waiting(s, user_id, change_id)
        user.held_change = None
        append_event(s, actor=actor.audit_name, action="user.change_refused",
                     subject_type="user", subject_id=user.id,
                     details={"change": change_id, "fields": held["fields"],
                              "requested_by": held["requested_by"],
                              "requested_at": held["requested_at"], "reason": reason.strip()},
                     now=now)
    return user


def _waiting(s: Session, user_id: int, change_id: str) -> tuple[m.User, dict[str, Any]]:
    user = get_or_404(s, m.User, user_id, "user", lock=True)  # no change slips in meanwhile
    held = user.held_change
    if not held:
        raise Conflict(f"no change waits for a countersignature on {user.username!r}")
    if held["id"] != change_id:
        raise Conflict(f"the change waiting on {user.username!r} is {held['id']} (asked for "
                       f"at {held['requested_at']}), not {change_id}: the admin replaced it; "
                       "read it again before you sign")
    return user, held


@dataclass(frozen=True)
class LoginResult:
    token: str
    user: m.User
    expires_in_s: int


#: Said when a password someone else chose (an admin, a member of oversight) meets its
#: first login.
FIRST_LOGIN = ("someone else set this password: for your first login give the code the "
               "member of oversight who countersigned it gave you, and a new password of "
               "your own (at least 12 characters)")


def log_in(p: Platform, username: str, password: str, client: str | None = None, *,
           first_login_code: str | None = None,
           new_password: str | None = None) -> LoginResult:
    """Check a password and open a session; the returned token goes in the cookie. Each
    attempt is counted per username and ``client`` address before its password is checked,
    with back-off, and given back when the password (and a first login's code) is right
    (see services.rate_limits.LoginThrottle). After an admin set the password, the first
    login also needs the code oversight was given (``countersign_change``) and sets a
    password of the person's own."""
    now = p.clock()
    # Counted before the (slow) password check: a burst of simultaneous guesses gets no
    # more checked than the same guesses one after another.
    p.login_throttle.attempt(username, client)
    try:
        return _open_session(p, username, password, client, first_login_code, new_password,
                             now)
    except WrongFirstLoginCode as exc:
        with p.sessions.begin() as s:  # the failed try's own transaction: it is kept
            append_event(s, actor=username, action="user.first_login_failed",
                         subject_type="user", subject_id=exc.user_id,
                         details={"reason": "the admin's password with a wrong code from "
                                            "oversight"}, now=now)
        raise


def _open_session(p: Platform, username: str, password: str, client: str | None,
                  first_login_code: str | None, new_password: str | None,
                  now: datetime) -> LoginResult:
    with p.sessions.begin() as s:
        user = s.scalar(select(m.User).where(m.User.username == username))
        _check_password(user.password_hash if user else _DUMMY_HASH, password)
        if user is None:
            raise LoginFailed("wrong username or password")
        # Then locked (the slow check is not made holding the row): a password change, a
        # reset or a deactivation that ends the person's sessions waits for this login to
        # finish, or this login for it, and then checks the password in force again: no
        # session opened with the old password outlives it.
        checked = user.password_hash
        s.refresh(user, with_for_update=True)
        if user.password_hash != checked:
            _check_password(user.password_hash, password)
        chosen = user.first_login_code_hash is not None and user.active
        if chosen:
            _first_login(s, user, password, first_login_code, new_password, now)
        p.login_throttle.succeeded(username, client)  # the right password is not penalised
        if not user.active:
            if user.held_change and user.held_change.get("active"):
                raise LoginFailed("this account waits for a member of oversight to "
                                  "countersign it; ask oversight")
            raise LoginFailed("this account is deactivated; ask an admin")
        if not chosen and _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        token = new_token()
        lifetime = p.settings.session_max_age_s
        s.add(m.LoginSession(token_hash=_sha256(token), user_id=user.id, created_at=now,
                             expires_at=now + timedelta(seconds=lifetime)))
        append_event(s, actor=user.username, action="user.logged_in", subject_type="user",
                     subject_id=user.id, details={}, now=now)
    return LoginResult(token, user, lifetime)


def _check_password(password_hash: str, password: str) -> None:
    try:
        _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        raise LoginFailed("wrong username or password") from None


def _first_login(s: Session, user: m.User, password: str, code: str | None,
                 new_password: str | None, now: datetime) -> None:
    """The first login after someone else set the password: oversight's code and a new
    password of the person's own (a wrong code counts as a failed attempt)."""
    if not code or not new_password:
        raise LoginFailed(FIRST_LOGIN)
    if _sha256(code.strip()) != user.first_login_code_hash:
        raise WrongFirstLoginCode(user.id)
    if new_password == password:
        raise LoginFailed("choose a new password of your own, not the one the admin set")
    user.password_hash = _hasher.hash(new_password)
    user.first_login_code_hash = None
    user.password_set_by = None
    append_event(s, actor=user.username, action="user.first_login", subject_type="user",
                 subject_id=user.id, details={"password": "chosen by the account holder"},
                 now=now)


def log_out(p: Platform, actor: Actor, token: str) -> None:
    require(actor, Action.SESSION_USE)
    now = p.clock()
    with p.sessions.begin() as s:
        s.execute(delete(m.LoginSession).where(m.LoginSession.token_hash == _sha256(token)))
        append_event(s, actor=actor.audit_name, action="user.logged_out", subject_type="user",
                     subject_id=actor.user_id or 0, details={}, now=now)


def change_password(p: Platform, actor: Actor, password: str, new_password: str,
                    client: str | None = None) -> LoginResult:
    """A person changes their own password: the one they have now, then a new one. Every
    session of theirs ends, this one too, and a new one is opened for them (the returned
    token goes in the cookie): someone who logged in with the old password, or holds a
    copy of this session's cookie, is logged out. A wrong current password counts as a
    failed login (``log_in``'s throttle): a stolen session cannot be used to guess it."""
    require(actor, Action.SESSION_USE)
    if actor.user_id is None:
        raise PermissionDenied("only a person logged in changes their own password")
    now = p.clock()
    p.login_throttle.attempt(actor.name, client)
    with p.sessions.begin() as s:
        user = get_or_404(s, m.User, actor.user_id, "user", lock=True)
        try:
            _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            # Still counted as a failed login (``succeeded`` is not called).
            raise InvalidInput("password", "your current password is not right") from None
        p.login_throttle.succeeded(actor.name, client)
        if new_password == password:
            raise InvalidInput("new_password", "choose a new password, not the one you have")
        user.password_hash = _hasher.hash(new_password)
        ended = s.scalar(select(func.count()).select_from(m.LoginSession).where(
            m.LoginSession.user_id == user.id)) or 0
        s.execute(delete(m.LoginSession).where(m.LoginSession.user_id == user.id))
        token, lifetime = new_token(), p.settings.session_max_age_s
        s.add(m.LoginSession(token_hash=_sha256(token), user_id=user.id, created_at=now,
                             expires_at=now + timedelta(seconds=lifetime)))
        append_event(s, actor=actor.audit_name, action="user.password_changed",
                     subject_type="user", subject_id=user.id,
                     details={"by": "the account holder", "sessions_ended": ended},
                     now=now)
    return LoginResult(token, user, lifetime)


def actor_for_session(p: Platform, token: str) -> Actor | None:
    """The person a session token belongs to, if it is valid and unexpired."""
    now = p.clock()
    with p.sessions() as s:
        row = s.execute(select(m.LoginSession, m.User).join(m.User).where(
            m.LoginSession.token_hash == _sha256(token))).first()
        if row is None:
            return None
        session, user = row
        if session.expires_at <= now or not user.active:
            return None
        return actor_of(user)


@dataclass(frozen=True)
class Credentials:
    """What a request carried to say who it is: a session token (the cookie) and/or an
    API key (the key wins, as for every request)."""

    session_token: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)


def actor_for_credentials(p: Platform, credentials: Credentials) -> Actor | None:
    """Who ``credentials`` stand for now; None once they stand for no one (the session
    ended, expired or its person was deactivated or given another role; the key was
    revoked or no longer works). For a check repeated while one request lasts (a console
    stream): one indexed read, and a key's "last used" is not written again."""
    if credentials.api_key:
        with p.sessions() as s:
            try:
                return actor_for_api_key_in(s, credentials.api_key, p.clock())[0]
            except UnknownApiKey:
                return None
    if credentials.session_token:
        return actor_for_session(p, credentials.session_token)
    return None


def actor_of(user: m.User) -> Actor:
    """A person as the use cases see them: name, role and, for a councillor, areas."""
    return Actor(name=user.username, role=Role(user.role), user_id=user.id,
                 areas=tuple(user.areas or ()))


def clear_login_throttle(p: Platform, actor: Actor, user_id: int) -> m.User:
    """Lift the failed-login block on a person's username, from every address (an admin
    who has checked that the account holder is who they say). Not on an oversight
    member's or a councillor's account: an admin who could lift it at will could go on
    guessing their password (red team, round 14: 30 guesses in a second, against 5 a
    minute), and one who got in would countersign their own account changes. Oversight
    lifts those (``clear_independent_login_throttle``)."""
    require(actor, Action.USERS_MANAGE)
    return _clear_login_throttle(p, actor, user_id,
                                 lambda user: _refuse_independent(actor, Role(user.role)))


def clear_independent_login_throttle(p: Platform, actor: Actor, user_id: int) -> m.User:
    """Oversight lifts the failed-login block on an oversight member's or a councillor's
    username, from every address."""
    require(actor, Action.INDEPENDENT_ACCOUNTS_MANAGE)
    return _clear_login_throttle(p, actor, user_id,
                                 lambda user: _require_independent_role(Role(user.role)))


def _clear_login_throttle(p: Platform, actor: Actor, user_id: int,
                          check: Callable[[m.User], None]) -> m.User:
    now = p.clock()
    with p.sessions.begin() as s:
        user = get_or_404(s, m.User, user_id, "user")
        check(user)
        p.login_throttle.clear(user.username)
        append_event(s, actor=actor.audit_name, action="user.login_throttle_cleared",
                     subject_type="user", subject_id=user.id, details={}, now=now)
    return user


@dataclass(frozen=True)
class NewApiKey:
    key: m.ApiKey
    secret: str | None  # shown once, never stored; None: the confirming operator is shown it


#: Why a node key names its deployment (the powers table: "a node key only for its
#: deployment"); said when one is asked for without, and when an old one is used.
NODE_KEY_SERVES_ONE = "a node key serves one deployment"


def create_api_key(p: Platform, actor: Actor, data: ApiKeyIn) -> NewApiKey:
    """Issue a key for an engine node, for one deployment (``deployment_id`` is required
    for a node); only its hash is kept, so the secret is shown once. Authorisers issue
    them: not an admin (a node key reads the deployment's watchlist), nor an operator (a
    node key sends the alerts and counts an operator then judges).
    Not an audit tool's: oversight issues those (``create_audit_key``), since an audit it
    records is what the threshold gate holds deployments to. The platform itself (its
    setup, the demo's) issues them too."""
    if not actor.is_system:
        require(actor, Action.NODE_KEY_ISSUE)
    role = Role(data.role)
    if role is Role.NODE and data.deployment_id is None:
        raise InvalidInput("deployment_id", NODE_KEY_SERVES_ONE + ": give the id of the "
                           "deployment this node runs for (another deployment needs a key "
                           "of its own)")
    if role is Role.AUDIT_TOOL and not actor.is_system:
        raise PermissionDenied(
            f"an audit tool's key is issued by oversight "
            f"({refusal(actor.role, Action.AUDIT_KEYS_MANAGE)}): the audits it records are "
            "what the threshold gate holds the force's deployments to")
    return _issue_key(p, actor, data.name, role, data.deployment_id)


def create_audit_key(p: Platform, actor: Actor, data: AuditKeyIn) -> NewApiKey:
    """Oversight issues a key for an audit tool (``openlfr evaluate --register``): it
    records equity audits and reads the register, nothing more."""
    require(actor, Action.AUDIT_KEYS_MANAGE)
    return _issue_key(p, actor, data.name, Role.AUDIT_TOOL, None)


def _issue_key(p: Platform, actor: Actor, name: str, role: Role,
               deployment_id: int | None) -> NewApiKey:
    now = p.clock()
    secret = API_KEY_PREFIX + new_token()
    with p.sessions.begin() as s:
        if role is Role.AUDIT_TOOL and deployment_id is not None:
            raise InvalidInput("deployment_id", "an audit tool's key is not limited to a "
                               "deployment; leave deployment_id out")
        if deployment_id is not None and s.get(m.Deployment, deployment_id) is None:
            raise InvalidInput("deployment_id", f"deployment {deployment_id} does not exist")
        # A node key a person issued waits for an operator's confirmation (its issuer is
        # an authoriser), and only the confirming operator is shown its secret: its issuer
        # never holds it. The platform's own and audit tools' keys work as issued.
        confirmed = actor.is_system or role is not Role.NODE
        key = m.ApiKey(name=name, key_hash=_sha256(secret),
                       key_prefix=secret[:12] if confirmed else "(unconfirmed)",
                       role=role.value, deployment_id=deployment_id,
                       created_by=actor.audit_name, created_at=now, revoked_at=None,
                       confirmed_at=now if confirmed else None,
                       confirmed_by=actor.audit_name if confirmed else None)
        s.add(key)
        s.flush()
        append_event(s, actor=actor.audit_name, action="api_key.created",
                     subject_type="api_key", subject_id=key.id,
                     details={"name": key.name, "role": key.role,
                              "deployment_id": key.deployment_id}, now=now)
    return NewApiKey(key, secret if confirmed else None)


def list_audit_keys(p: Platform, actor: Actor) -> list[m.ApiKey]:
    """The keys of audit tools (oversight's)."""
    require(actor, Action.AUDIT_KEYS_MANAGE)
    with p.sessions() as s:
        return list(s.scalars(select(m.ApiKey).where(
            m.ApiKey.role == Role.AUDIT_TOOL.value).order_by(m.ApiKey.id)))


def revoke_audit_key(p: Platform, actor: Actor, key_id: int) -> m.ApiKey:
    """Oversight stops one of its audit tools' keys, at once."""
    require(actor, Action.AUDIT_KEYS_MANAGE)
    return _revoke(p, actor, key_id, only=Role.AUDIT_TOOL)


def list_api_keys(p: Platform, actor: Actor) -> list[m.ApiKey]:
    """The keys: every key for an admin, engine nodes' for operators and authorisers."""
    require(actor, Action.API_KEYS_MANAGE)
    query = select(m.ApiKey).order_by(m.ApiKey.id)
    if actor.role is not Role.ADMIN:
        query = query.where(m.ApiKey.role == Role.NODE.value)
    with p.sessions() as s:
        return list(s.scalars(query))


@dataclass(frozen=True)
class Delivered:
    """What a node key delivered: alerts, batches of counts, and when the last arrived."""

    alerts: int = 0
    counter_batches: int = 0
    last_at: datetime | None = None


def key_deliveries(p: Platform, actor: Actor) -> dict[int, Delivered]:
    """By key id, what each node key delivered (keys that delivered nothing are left out):
    a key found leaked, copied or misused shows what it sent, and to which deployment."""
    require(actor, Action.API_KEYS_MANAGE)
    with p.sessions() as s:
        return _deliveries(s)


def _deliveries(s: Session, key_id: int | None = None) -> dict[int, Delivered]:
    found: dict[int, dict[str, Any]] = {}
    for model, what in ((m.Alert, "alerts"), (m.CounterBatch, "counter_batches")):
        query = select(model.api_key_id, func.count(), func.max(model.received_at)).where(
            model.api_key_id.is_not(None)).group_by(model.api_key_id)
        if key_id is not None:
            query = query.where(model.api_key_id == key_id)
        for key, count, last in s.execute(query):
            row = found.setdefault(cast(int, key), {"last_at": last})  # never null here
            row[what] = count
            row["last_at"] = max(row["last_at"], last)
    return {key: Delivered(**row) for key, row in found.items()}


def confirm_api_key(p: Platform, actor: Actor, key_id: int) -> NewApiKey:
    """An operator confirms a node key an authoriser issued, for their van: it works from
    now on, and its secret is made now and shown once, to this operator only (to put in
    the van). The authoriser who issued it never holds it: an authoriser with a working
    key could feed the counts the published figures are made of, and an operator cannot
    make a key at will."""
    require(actor, Action.NODE_KEY_CONFIRM)
    now = p.clock()
    with p.sessions.begin() as s:
        key = get_or_404(s, m.ApiKey, key_id, "API key", lock=True)
        if key.role != Role.NODE.value:
            raise NotFound(f"no node key {key_id}")
        if key.revoked_at is not None:
            raise Conflict(f"key {key.name!r} is revoked; ask an authoriser for a new one")
        if key.confirmed_at is not None:
            raise Conflict(f"key {key.name!r} was confirmed by {key.confirmed_by} at "
                           f"{key.confirmed_at.isoformat()}")
        if key.created_by == actor.audit_name:
            raise Conflict("a key is confirmed by another person than the one who issued it")
        secret = API_KEY_PREFIX + new_token()
        key.key_hash, key.key_prefix = _sha256(secret), secret[:12]
        key.confirmed_at, key.confirmed_by = now, actor.audit_name
        append_event(s, actor=actor.audit_name, action="api_key.confirmed",
                     subject_type="api_key", subject_id=key.id,
                     details={"name": key.name, "issued_by": key.created_by,
                              "deployment_id": key.deployment_id}, now=now)
    return NewApiKey(key, secret)


def revoke_api_key(p: Platform, actor: Actor, key_id: int) -> m.ApiKey:
    """Stop a key at once: an admin any key (a leaked audit tool's key too: revoking gives
    no power), an operator or authoriser an engine node's."""
    require(actor, Action.API_KEYS_MANAGE)
    return _revoke(p, actor, key_id, None if actor.role is Role.ADMIN else Role.NODE)


def _revoke(p: Platform, actor: Actor, key_id: int, only: Role | None = None) -> m.ApiKey:
    now = p.clock()
    with p.sessions.begin() as s:
        key = get_or_404(s, m.ApiKey, key_id, "API key")
        if only is not None and key.role != only.value:
            raise NotFound(f"no {only.value} key {key_id}")
        if key.revoked_at is None:
            key.revoked_at = now
            sent = _deliveries(s, key.id).get(key.id, Delivered())
            append_event(s, actor=actor.audit_name, action="api_key.revoked",
                         subject_type="api_key", subject_id=key.id,
                         details={"alerts_delivered": sent.alerts,
                                  "counter_batches_delivered": sent.counter_batches},
                         now=now)
    return key


#: How stale a key's "last used" may get before a request writes it again: a node sends
#: many requests a minute, and one write a minute is enough for an admin to see it is alive.
LAST_USED_RESOLUTION = timedelta(minutes=1)


#: A key's row as a request checks it, found through the unique index on its hash. Keys
#: are long random tokens, so one SHA-256 is enough (a slow password hash would add
#: milliseconds to every node request and protect nothing more); read in plain columns
#: because nodes send many requests a second.
_KEYS = m.ApiKey.__table__
_KEY_BY_HASH = select(_KEYS.c.id, _KEYS.c.name, _KEYS.c.role, _KEYS.c.deployment_id,
                      _KEYS.c.revoked_at, _KEYS.c.last_used_at, _KEYS.c.confirmed_at).where(
    _KEYS.c.key_hash == bindparam("key_hash"))


def actor_for_api_key(p: Platform, secret: str) -> Actor:
    """The node or audit tool an API key belongs to (read from the database on every
    request, so a revocation holds at once in every server process); notes when it was
    last used (to the minute). UnknownApiKey if the key does not exist or is revoked."""
    now = p.clock()
    with p.sessions() as s:
        actor, note_used = actor_for_api_key_in(s, secret, now)
    if note_used:
        note_api_key_used(p, actor.api_key_id, now)  # type: ignore[arg-type]
    return actor


class UnknownApiKey(GovernanceError):
    """An API key that does not exist, was revoked or no longer works (401)."""

    def __init__(self, retired_because: str | None = None, waiting: bool = False) -> None:
        super().__init__(
            NODE_KEY_WAITS if waiting else
            f"this API key no longer works: {retired_because}" if retired_because else
            "the API key is unknown or revoked; ask for a new one (an authoriser issues "
            "nodes' keys, oversight audit tools')")


#: Said to a node key an operator has not confirmed yet.
NODE_KEY_WAITS = ("this node key does not work yet: an operator, another person than the "
                  "authoriser who issued it, confirms it first (Node keys in the staff menu)")


def retired_because(role: str, deployment_id: int | None) -> str | None:
    """Why a key that was issued under an older rule no longer works (None: it works,
    unless revoked). Refused when used, and shown on the admin's keys page."""
    if role == Role.OVERSIGHT.value:
        # Issued by an admin before audit tools' keys were oversight's to issue.
        return "issued as oversight by an admin; oversight issues audit tools' keys now"
    if role == Role.NODE.value and deployment_id is None:
        # Issued before a node key had to name its deployment.
        return (f"{NODE_KEY_SERVES_ONE} and this one names none; an authoriser issues the node "
                "a key for its deployment")
    return None


@dataclass(frozen=True)
class NodeKey:
    """An API key as a request carried it, not yet checked. A node's single alerts and
    counter batches check it in the transaction that records them
    (``actor_for_api_key_in``) instead of in one of their own first: a revocation holds
    for every write committed after it, and a group of writes looks each key up once."""

    secret: str = field(repr=False)


#: ``Session.info`` key: the keys ``actor_for_api_key_in`` found in the session.
_KEYS_FOUND = "openlfr_api_keys_found"


def actor_for_api_key_in(s: Session, secret: str, now: datetime) -> tuple[Actor, bool]:
    """The node or audit tool an API key belongs to, checked in the caller's transaction
    (once a session), and whether the caller should note the key as used
    (``note_api_key_used``, after its commit: its row is not locked while the caller holds
    the audit log's head). UnknownApiKey if the key does not exist or is revoked."""
    found: dict[str, Actor] = s.info.setdefault(_KEYS_FOUND, {})
    key_hash = _sha256(secret)
    if key_hash in found:
        return found[key_hash], False
    key = s.connection().execute(_KEY_BY_HASH, {"key_hash": key_hash}).first()
    if key is None or key.revoked_at is not None:
        raise UnknownApiKey()
    if key.confirmed_at is None:
        raise UnknownApiKey(waiting=True)
    retired = retired_because(key.role, key.deployment_id)
    if retired is not None:
        raise UnknownApiKey(retired)
    actor = found[key_hash] = _key_actor(key)
    return actor, _stale(key.last_used_at, now)


def note_api_key_used(p: Platform, key_id: int, now: datetime) -> None:
    """Note when a key was last used, in a transaction of its own."""
    with p.sessions.begin() as s:
        s.execute(update(m.ApiKey).where(m.ApiKey.id == key_id).values(last_used_at=now))


def _key_actor(key: Any) -> Actor:
    return Actor(name=key.name, role=Role(key.role), api_key_id=key.id,
                 deployment_scope=key.deployment_id)


def _stale(last_used_at: datetime | None, now: datetime) -> bool:
    return last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION
