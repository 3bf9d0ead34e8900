"""People (the force's staff by its admin; oversight members and councillors by oversight)
and API keys for engine nodes and audit tools (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from openlfr.services import users
from openlfr.services.platform import Actor
from openlfr.services.powers import Action
from openlfr.services.schemas import AccountChangeIn, ApiKeyIn, AuditKeyIn, UserIn, UserPatch
from openlfr.web.api import AUTH_ERRORS, CONFLICT, NOT_FOUND
from openlfr.web.deps import IdPath, PlatformDep, power
from openlfr.web.schemas import ApiKeyOut, CountersignedOut, NewApiKeyOut, UserOut

router = APIRouter(tags=["users"], responses=AUTH_ERRORS)
Admin = Annotated[Actor, power(Action.USERS_MANAGE)]
KeyAdmin = Annotated[Actor, power(Action.API_KEYS_MANAGE)]
KeyIssuer = Annotated[Actor, power(Action.NODE_KEY_ISSUE)]
KeyConfirmer = Annotated[Actor, power(Action.NODE_KEY_CONFIRM)]
Oversight = Annotated[Actor, power(Action.INDEPENDENT_ACCOUNTS_MANAGE)]
Countersigner = Annotated[Actor, power(Action.ACCOUNT_CHANGE_COUNTERSIGN)]
AuditKeys = Annotated[Actor, power(Action.AUDIT_KEYS_MANAGE)]


@router.get("/users", response_model=list[UserOut])
def list_users(actor: Admin, platform: PlatformDep) -> list[UserOut]:
    """Every account and its role."""
    return [UserOut.model_validate(u) for u in users.list_users(platform, actor)]


@router.post("/users", response_model=UserOut, status_code=201, responses=CONFLICT)
def create_user(data: UserIn, actor: Admin, platform: PlatformDep) -> UserOut:
    """Add a person with a role (password at least 12 characters). The account cannot
    log in until oversight countersigns it (its ``held_change``). Not an oversight member
    or a councillor: oversight adds those (POST /api/oversight/accounts)."""
    return UserOut.model_validate(users.create_user(platform, actor, data))


@router.patch("/users/{user_id}", response_model=UserOut, responses={**NOT_FOUND, **CONFLICT})
def update_user(user_id: IdPath, data: UserPatch, actor: Admin,
                platform: PlatformDep) -> UserOut:
    """Deactivate (at once; ends the person's sessions), or ask to change a role, reset a
    password or reactivate: that waits for oversight's countersignature (the account's
    ``held_change``). Not an oversight member's or a councillor's, nor to those roles
    (PATCH /api/oversight/accounts/{user_id})."""
    return UserOut.model_validate(users.update_user(platform, actor, user_id, data))


@router.get("/oversight/accounts", response_model=list[UserOut])
def list_independent_accounts(actor: Oversight, platform: PlatformDep) -> list[UserOut]:
    """The accounts of oversight members and councillors (oversight manages them)."""
    return [UserOut.model_validate(u)
            for u in users.list_independent_accounts(platform, actor)]


@router.post("/oversight/accounts", response_model=UserOut, status_code=201,
             responses=CONFLICT)
def create_independent_account(data: UserIn, actor: Oversight,
                               platform: PlatformDep) -> UserOut:
    """Add an oversight member or a councillor (with the areas they act for). It cannot
    log in until another member of oversight countersigns it (``held_change``;
    POST /api/oversight/account-changes/{user_id}/countersign). An admin cannot: one who
    could make an oversight account could sign both halves of a two-person override."""
    return UserOut.model_validate(users.create_independent_account(platform, actor, data))


@router.patch("/oversight/accounts/{user_id}", response_model=UserOut,
              responses={**NOT_FOUND, **CONFLICT})
def update_independent_account(user_id: IdPath, data: UserPatch, actor: Oversight,
                               platform: PlatformDep) -> UserOut:
    """Deactivate an oversight member or a councillor (at once; ends their sessions), or
    ask to change their role (between those two) or areas, reset their password or
    reactivate them: that waits for another member of oversight's countersignature."""
    return UserOut.model_validate(
        users.update_independent_account(platform, actor, user_id, data))


@router.get("/oversight/account-changes", response_model=list[UserOut])
def list_held_changes(actor: Countersigner, platform: PlatformDep) -> list[UserOut]:
    """The accounts whose change (a new account, a role, a councillor's areas, a password
    reset, a reactivation) waits for a countersignature, oldest first: the admin's, which
    any member of oversight signs, and oversight's own, which another member signs."""
    return [UserOut.model_validate(u) for u in users.held_changes(platform, actor)]


@router.post("/oversight/account-changes/{user_id}/countersign",
             response_model=CountersignedOut, responses={**NOT_FOUND, **CONFLICT})
def countersign_change(user_id: IdPath, data: AccountChangeIn, actor: Countersigner,
                       platform: PlatformDep) -> CountersignedOut:
    """Countersign the change waiting on the account (``change_id``: the one you read):
    it takes effect now and ends the person's sessions. A new account or a password reset
    comes back with ``first_login_code``, shown once: the person's first login needs it."""
    signed = users.countersign_change(platform, actor, user_id, data.change_id)
    out = UserOut.model_validate(signed.user).model_dump()
    return CountersignedOut(**out, first_login_code=signed.first_login_code)


@router.post("/oversight/account-changes/{user_id}/refuse", response_model=UserOut,
             responses={**NOT_FOUND, **CONFLICT})
def refuse_change(user_id: IdPath, data: AccountChangeIn, actor: Countersigner,
                  platform: PlatformDep) -> UserOut:
    """Refuse the change waiting on the account, with a reason (kept in the audit log);
    none of it takes effect. Whoever asked for it may withdraw it so."""
    return UserOut.model_validate(
        users.refuse_change(platform, actor, user_id, data.change_id, data.reason))


@router.post("/users/{user_id}/login-block/clear", response_model=UserOut,
             responses=NOT_FOUND)
def clear_login_block(user_id: IdPath, actor: Admin, platform: PlatformDep) -> UserOut:
    """Lift the failed-login block on the person's username, from every address (once
    you know the account holder is asking). Not on an oversight member's or a
    councillor's account (403): oversight lifts those
    (POST /api/oversight/accounts/{user_id}/login-block/clear)."""
    return UserOut.model_validate(users.clear_login_throttle(platform, actor, user_id))


@router.post("/oversight/accounts/{user_id}/login-block/clear", response_model=UserOut,
             responses=NOT_FOUND)
def clear_independent_login_block(user_id: IdPath, actor: Oversight,
                                  platform: PlatformDep) -> UserOut:
    """Lift the failed-login block on an oversight member's or a councillor's username,
    from every address (an admin may not: POST /api/users/{user_id}/login-block/clear is
    for the force's own accounts)."""
    return UserOut.model_validate(
        users.clear_independent_login_throttle(platform, actor, user_id))


@router.get("/api-keys", response_model=list[ApiKeyOut])
def list_api_keys(actor: KeyAdmin, platform: PlatformDep) -> list[ApiKeyOut]:
    """The keys, when each was last used and what each delivered (alerts, batches of
    counts; secrets are never shown again): every key for an admin, engine nodes' for
    operators and authorisers."""
    sent = users.key_deliveries(platform, actor)
    return [_with_deliveries(ApiKeyOut.model_validate(k), sent.get(k.id))
            for k in users.list_api_keys(platform, actor)]


def _with_deliveries(key: ApiKeyOut, sent: users.Delivered | None) -> ApiKeyOut:
    if sent is None:
        return key
    return key.model_copy(update={"alerts_delivered": sent.alerts,
                                  "counter_batches_delivered": sent.counter_batches,
                                  "last_delivery_at": sent.last_at})


@router.post("/api-keys", response_model=NewApiKeyOut, status_code=201)
def create_api_key(data: ApiKeyIn, actor: KeyIssuer, platform: PlatformDep) -> NewApiKeyOut:
    """Issue a key for an engine node, for one deployment (``deployment_id``, required);
    send it as the X-API-Key header. Authorisers issue them: not an admin (a node key
    reads the deployment's watchlist), nor an operator (it sends the alerts an operator
    judges); it works once an operator confirms it (POST /api/api-keys/{id}/confirm).
    An audit tool's key is oversight's to issue (POST /api/oversight/audit-keys)."""
    new = users.create_api_key(platform, actor, data)
    return _new_key(new)


def _new_key(new: users.NewApiKey) -> NewApiKeyOut:
    message = ("store this secret now: only its hash is kept" if new.secret else
               "issued: an operator confirms it (POST /api/api-keys/{id}/confirm) and is "
               "shown its secret, once")
    return NewApiKeyOut(key=ApiKeyOut.model_validate(new.key), secret=new.secret,
                        message=message)


@router.post("/api-keys/{key_id}/confirm", response_model=NewApiKeyOut,
             responses={**NOT_FOUND, **CONFLICT})
def confirm_api_key(key_id: IdPath, actor: KeyConfirmer,
                    platform: PlatformDep) -> NewApiKeyOut:
    """An operator confirms a node key an authoriser issued, for their van: it works from
    now on, and its secret is shown in this answer, once, to the operator only (the
    authoriser who issued it never holds it)."""
    return _new_key(users.confirm_api_key(platform, actor, key_id))


@router.post("/api-keys/{key_id}/revoke", response_model=ApiKeyOut, responses=NOT_FOUND)
def revoke_api_key(key_id: IdPath, actor: KeyAdmin, platform: PlatformDep) -> ApiKeyOut:
    """Stop a key from working, at once (an operator or authoriser: a node's key)."""
    return ApiKeyOut.model_validate(users.revoke_api_key(platform, actor, key_id))


@router.get("/oversight/audit-keys", response_model=list[ApiKeyOut])
def list_audit_keys(actor: AuditKeys, platform: PlatformDep) -> list[ApiKeyOut]:
    """The keys of audit tools (secrets are never shown again)."""
    return [ApiKeyOut.model_validate(k) for k in users.list_audit_keys(platform, actor)]


@router.post("/oversight/audit-keys", response_model=NewApiKeyOut, status_code=201)
def create_audit_key(data: AuditKeyIn, actor: AuditKeys,
                     platform: PlatformDep) -> NewApiKeyOut:
    """Issue a key for an audit tool (openlfr evaluate --register): it records equity audits
    and reads the register, nothing more. Oversight's to issue, not the admin's: the
    audits it records are what the threshold gate holds the force's deployments to."""
    return _new_key(users.create_audit_key(platform, actor, data))


@router.post("/oversight/audit-keys/{key_id}/revoke", response_model=ApiKeyOut,
             responses=NOT_FOUND)
def revoke_audit_key(key_id: IdPath, actor: AuditKeys, platform: PlatformDep) -> ApiKeyOut:
    """Stop an audit tool's key, at once."""
    return ApiKeyOut.model_validate(users.revoke_audit_key(platform, actor, key_id))

