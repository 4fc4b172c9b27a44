"""Who may see what: roles, the pages each role opens, and how a signed-in email gets its role.

Schools hold this data about children, so access is decided here, in one place, and every page
asks before it shows anything (a page reached by URL is as protected as one reached by the menu).
The pages and the roles that open them are in the registry, :mod:`engagement.pages`.
Roles come from the ``[roles]`` table of Streamlit secrets, keyed by email address or by
``@domain``; an exact address wins over its domain.

>>> roles = {"head@hollybrook.sch.uk": "head", "@hollybrook.sch.uk": "governor"}
>>> role_for("Head@Hollybrook.sch.uk", roles), role_for("chair@hollybrook.sch.uk", roles)
('head', 'governor')
>>> role_for("someone@gmail.com", roles) is None
True
>>> can_open("governor", "outreach"), can_open("flo", "outreach")
(False, True)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from engagement.pages import PAGES, ROLES

# What a role may do beyond opening a page.
FAMILY_DETAIL_ROLES = frozenset({"admin", "head", "flo"})
IMPORT_ROLES = frozenset({"admin", "flo", "head"})

LOCAL_USER = "local admin"


class SignInConfigError(RuntimeError):
    """Sign-in is not configured safely: the app serves nothing (it fails closed) and says why."""


def is_loopback(address: str | None) -> bool:
    """Whether a server bound to ``address`` is reachable from this computer only. No address at
    all means Streamlit listens on every interface.

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("::1")
    (True, True, True)
    >>> is_loopback("0.0.0.0"), is_loopback(None), is_loopback("192.168.1.20")
    (False, False, False)
    """
    if not address:
        return False
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def sign_in_mode(auth: Mapping | None, address: str | None) -> str:
    """``"sign-in"`` when OpenID Connect is configured, ``"local"`` (everyone an administrator)
    only without it *and* on a loopback address; anything else refuses to serve.

    >>> sign_in_mode({"client_id": "x"}, "0.0.0.0"), sign_in_mode(None, "127.0.0.1")
    ('sign-in', 'local')
    >>> sign_in_mode(None, "0.0.0.0")
    Traceback (most recent call last):
    ...
    engagement.access.SignInConfigError: this app is served on 0.0.0.0 without sign-in, which would make every visitor an administrator. Configure [auth] and [roles] in .streamlit/secrets.toml (README, "Deployment: sign-in and roles"), or serve on 127.0.0.1 for local use.
    """
    if auth:
        return "sign-in"
    if is_loopback(address):
        return "local"
    where = address or "every network interface"
    raise SignInConfigError(
        f"this app is served on {where} without sign-in, which would make every visitor an administrator. "
        'Configure [auth] and [roles] in .streamlit/secrets.toml (README, "Deployment: sign-in and roles"), '
        "or serve on 127.0.0.1 for local use."
    )


def role_for(email: str | None, roles: dict[str, str] | None) -> str | None:
    """The role of ``email`` under the ``roles`` mapping (address or ``@domain`` to role)."""
    if not email or not roles:
        return None
    email = email.strip().lower()
    table = {str(k).strip().lower(): str(v).strip().lower() for k, v in roles.items()}
    role = table.get(email)
    if role is None and "@" in email:
        role = table.get("@" + email.rsplit("@", 1)[1])
    return role if role in ROLES else None


def can_open(role: str | None, page: str) -> bool:
    """Whether ``role`` may open ``page`` (unknown pages are closed to everyone)."""
    return role is not None and any(entry.key == page and role in entry.roles for entry in PAGES)


def sees_family_detail(role: str | None) -> bool:
    """Family-level records (worklists, contact histories, small postcode sectors) are not for governors."""
    return role in FAMILY_DETAIL_ROLES


def may_import(role: str | None) -> bool:
    return role in IMPORT_ROLES
