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
from dataclasses import dataclass

from engagement.pages import PAGES, ROLES

# What a role may do beyond opening a page.
FAMILY_DETAIL_ROLES = frozenset({"admin", "head", "flo", "senco"})
IMPORT_ROLES = frozenset({"admin", "flo", "head", "senco"})
# Outreach reasons drawn from a family's survey answers and its child's move: the family liaison
# officer's to act on, and no one else's to read (issue 19).
FLO_REASON_ROLES = frozenset({"flo"})

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
    >>> try:
    ...     sign_in_mode(None, "0.0.0.0")
    ... except SignInConfigError as error:
    ...     print(str(error)[:58])
    this app is served on 0.0.0.0 without sign-in, which would
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


EVERY_SCHOOL = frozenset({"*"})


@dataclass(frozen=True)
class Grant:
    """What one account may do: its role, and the schools it may see: listed, :data:`EVERY_SCHOOL`
    of the store, or ``None`` for a bare role, which sees a store of one school only
    (:func:`visible_schools`)."""

    role: str
    schools: frozenset[str] | None = None


def _grant(value) -> Grant | None:
    if isinstance(value, str):
        role, schools = value, None
    elif isinstance(value, Mapping):
        role, listed = str(value.get("role", "")), value.get("schools")
        if isinstance(listed, str):
            listed = [listed]
        if not isinstance(listed, (list, tuple)) or not listed:
            return None  # a role with a malformed school list opens nothing (fails closed)
        schools = EVERY_SCHOOL if "*" in listed else frozenset(str(s).strip() for s in listed)
    else:
        return None
    role = role.strip().lower()
    return Grant(role, schools) if role in ROLES else None


def grant_for(email: str | None, roles: Mapping | None) -> Grant | None:
    """The grant of ``email`` under the ``[roles]`` table: each address or ``@domain`` maps to a
    role, or to ``{role = "...", schools = ["URN", ...]}`` (``["*"]``: every school of the store,
    for a trust's own leads). An exact address wins over its domain.

    >>> roles = {"flo@oak.sch.uk": {"role": "flo", "schools": ["S1"]}, "@trust.org.uk": {"role": "head", "schools": ["*"]}}
    >>> grant_for("FLO@oak.sch.uk", roles)
    Grant(role='flo', schools=frozenset({'S1'}))
    >>> grant_for("ceo@trust.org.uk", roles)
    Grant(role='head', schools=frozenset({'*'}))
    """
    if not email or not roles:
        return None
    email = email.strip().lower()
    table = {str(k).strip().lower(): v for k, v in roles.items()}
    value = table.get(email)
    if value is None and "@" in email:
        value = table.get("@" + email.rsplit("@", 1)[1])
    return None if value is None else _grant(value)


def email_verified(claim) -> bool:
    """Whether a provider's ``email_verified`` claim lets its address be trusted for a grant. A
    missing claim is trusted (many providers only sign in verified addresses and do not say so);
    otherwise only a true one is: some providers send the claim as text, and the text "false" is
    truthy to Python, so it is read as what it says, and anything unexpected is not trusted.

    >>> [email_verified(c) for c in (None, True, "true", "TRUE", 1)]
    [True, True, True, True, True]
    >>> [email_verified(c) for c in (False, "false", "False", "0", 0, "no", "", "yes please")]
    [False, False, False, False, False, False, False, False]
    """
    if claim is None:
        return True
    if isinstance(claim, bool):
        return claim
    if isinstance(claim, int):
        return claim == 1
    return isinstance(claim, str) and claim.strip().lower() in ("true", "1")


def signed_in_grant(email: str | None, claim, roles: Mapping | None) -> Grant | None:
    """The grant of a signed-in user: none when the provider says (in any form) that the address
    is not verified, since it could then be asserting anyone's address; else :func:`grant_for`.

    >>> roles = {"head@oak.sch.uk": "head"}
    >>> signed_in_grant("head@oak.sch.uk", "false", roles) is None, signed_in_grant("head@oak.sch.uk", True, roles)
    (True, Grant(role='head', schools=None))
    """
    return grant_for(email, roles) if email_verified(claim) else None


def role_for(email: str | None, roles: Mapping | None) -> str | None:
    """The role of ``email`` under the ``roles`` mapping (address or ``@domain`` to role)."""
    grant = grant_for(email, roles)
    return grant.role if grant else None


def importable_schools(schools: frozenset[str] | None, store_schools: list[str]) -> frozenset[str] | None:
    """The schools an account may import rows for (``None``: any, including a new school): a
    trust-wide or local administrator anything; a listed grant its schools; a bare role, in a store
    of one school or none, anything (a school's first import names its school), else nothing.

    >>> importable_schools(frozenset({"S1"}), ["S1", "S2"]), importable_schools(None, ["S1"])
    (frozenset({'S1'}), None)
    >>> importable_schools(None, ["S1", "S2"])
    frozenset()
    """
    if schools is not None and "*" in schools:
        return None
    if schools is not None:
        return schools
    return None if len(store_schools) <= 1 else frozenset()


def sees_every_school(schools: frozenset[str] | None, store_schools: list[str]) -> bool:
    """Whether an account sees every school of the store (what the store-wide audit log needs).

    >>> sees_every_school(EVERY_SCHOOL, ["S1", "S2"]), sees_every_school(frozenset({"S1"}), ["S1", "S2"])
    (True, False)
    """
    return set(visible_schools(schools, store_schools)) == set(store_schools)


def visible_schools(schools: frozenset[str] | None, store_schools: list[str]) -> list[str]:
    """The schools of the store an account may see, in the store's order. An account with no school
    list sees every school only when the store holds one; in a trust's store it must be given its
    schools, so a bare role can never open another school's families.

    >>> visible_schools(frozenset({"S1"}), ["S1", "S2"]), visible_schools(None, ["S1"]), visible_schools(None, ["S1", "S2"])
    (['S1'], ['S1'], [])
    >>> visible_schools(EVERY_SCHOOL, ["S1", "S2"])
    ['S1', 'S2']
    """
    if schools is None:
        return list(store_schools) if len(store_schools) <= 1 else []
    if "*" in schools:
        return list(store_schools)
    return [s for s in store_schools if s in schools]


def can_open(role: str | None, page: str) -> bool:
    """Whether ``role`` may open ``page`` (unknown pages are closed to everyone)."""
    return role is not None and any(entry.key == page and role in entry.roles for entry in PAGES)


def sees_family_detail(role: str | None) -> bool:
    """Family-level records (worklists, contact histories, small postcode sectors) are not for governors."""
    return role in FAMILY_DETAIL_ROLES


def sees_flo_reasons(role: str | None) -> bool:
    """Whether the outreach reasons for family liaison officers only are spelt out to ``role``.

    >>> sees_flo_reasons("flo"), sees_flo_reasons("head"), sees_flo_reasons("senco")
    (True, False, False)
    """
    return role in FLO_REASON_ROLES


def may_import(role: str | None) -> bool:
    return role in IMPORT_ROLES


def may_import_for(role: str | None, allowed: frozenset[str] | None, school_id: str | None) -> bool:
    """Whether ``role``, allowed ``allowed`` (:func:`importable_schools`; None: any), may import
    rows for ``school_id``.

    >>> may_import_for("flo", frozenset({"S1"}), "S1"), may_import_for("flo", frozenset(), "S1")
    (True, False)
    >>> may_import_for("governor", None, "S1"), may_import_for("head", None, None)
    (False, False)
    """
    return school_id is not None and may_import(role) and (allowed is None or school_id in allowed)


# Who may show the app as governors see it: staff presenting to a governors' meeting from their
# own session (a head at the projector) see exactly a governor's pages and aggregates, and
# nothing a governor would not.
PRESENTING_ROLES = frozenset({"admin", "head", "flo", "senco"})


def shown_role(role: str | None, governors_view: bool) -> str | None:
    """The role a page treats the viewer as: ``governor`` while a member of staff has the
    governors' view on (only ever fewer rights, never more); otherwise their own.

    >>> shown_role("head", True), shown_role("head", False), shown_role("governor", True), shown_role(None, True)
    ('governor', 'head', 'governor', None)
    """
    return "governor" if governors_view and role in PRESENTING_ROLES else role
