"""What an admin (and oversight) reads about the platform itself: the settings in force.

Secrets are never shown: keys and passwords as "set" or "not set", and a password inside a
URL (the database, the rate-limit store) masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from openlfr.services.platform import Actor, Platform
from openlfr.services.powers import Action, require
from openlfr.settings import Settings

#: Settings whose value is a secret: shown only as set or not set.
SECRET_SETTINGS = frozenset({"encryption_key", "audit_signing_key", "smtp_password"})
#: Settings whose value is a URL that may carry a password.
URL_SETTINGS = frozenset({"database_url", "rate_limit_storage", "live_wakeups_url"})
ENV_PREFIX = "OPENLFR_"


@dataclass(frozen=True)
class SettingInForce:
    name: str
    env_var: str
    value: str
    description: str
    default: bool


def _masked_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    user = f"{parts.username}:***@" if parts.username else ":***@"
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, f"{user}{host}{port}", parts.path, parts.query,
                       parts.fragment))


def shown_value(name: str, value: object) -> str:
    """A setting's value as the admin page shows it (secrets never)."""
    if name in SECRET_SETTINGS:
        return "set" if value else "not set"
    if value is None:
        return "not set"
    if name in URL_SETTINGS:
        return _masked_url(str(value))
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(str(x) for x in value) or "(none)"
    return str(value)


def settings_in_force(p: Platform, actor: Actor) -> list[SettingInForce]:
    """Every setting with its environment variable, its value (secrets masked), what it
    does and whether it is the default."""
    require(actor, Action.SETTINGS_READ)
    s = p.settings
    fields = Settings.model_fields
    return [SettingInForce(name, ENV_PREFIX + name.upper(), shown_value(name, getattr(s, name)),
                           info.description or "", getattr(s, name) == info.default)
            for name, info in fields.items()]
