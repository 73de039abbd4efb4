"""ACL checks and the built-in authentication schemes (world, auth, digest, ip, super).

Mirrors ZooKeeperServer.checkACL, PrepRequestProcessor.fixupACL and the Digest/IP
authentication providers: a caller is a list of `Id`s (every connection carries `ip:<address>`,
`addauth digest user:pw` adds `digest:user:<base64 sha1>`, and a digest equal to the configured
superDigest also adds `super:`). Checks are pure functions of (acl, perm, ids).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from collections.abc import Sequence

from zkpy.jute.constants import Perms
from zkpy.jute.records import ACL, Id

WORLD_ANYONE = Id("world", "anyone")
OPEN_ACL_UNSAFE = [ACL(Perms.ALL, WORLD_ANYONE)]
READ_ACL_UNSAFE = [ACL(Perms.READ, WORLD_ANYONE)]
SUPER_ID = Id("super", "")

KNOWN_SCHEMES = ("digest", "ip")
# Schemes whose ids stand for an authenticated user; `auth` ACLs expand to these only
# (IPAuthenticationProvider.isAuthenticated() is false).
AUTHENTICATED_SCHEMES = ("digest",)


def digest_of(user_password: str) -> str:
    """'user:password' -> 'user:base64(sha1(user:password))' (DigestAuthenticationProvider)."""
    user = user_password.split(":", 1)[0]
    sha1 = hashlib.sha1(user_password.encode("utf-8")).digest()
    return f"{user}:{base64.b64encode(sha1).decode('ascii')}"


def user_name(ident: Id) -> str:
    """What whoAmI reports for an id (AuthenticationProvider.getUserName): a digest id's user."""
    if ident.scheme == "digest":
        return ident.id.split(":", 1)[0]
    return ident.id


def _ip_matches(client: str, pattern: str) -> bool:
    try:
        address = ipaddress.ip_address(client)
        network = ipaddress.ip_network(pattern, strict=False)
    except ValueError:
        return False
    return address.version == network.version and address in network


def is_valid_id(scheme: str, ident: str | None) -> bool:
    if ident is None:
        return False
    if scheme == "digest":
        return len(ident.split(":")) == 2
    if scheme == "ip":
        try:
            ipaddress.ip_network(ident, strict=False)
        except ValueError:
            return False
        return True
    return False


def id_matches(acl_id: Id, auth_ids: Sequence[Id]) -> bool:
    for auth_id in auth_ids:
        if auth_id.scheme != acl_id.scheme:
            continue
        if acl_id.scheme == "ip":
            if _ip_matches(auth_id.id, acl_id.id):
                return True
        elif auth_id.id == acl_id.id:
            return True
    return False


def check_acl(acl: Sequence[ACL] | None, perm: int, auth_ids: Sequence[Id], skip_acl: bool = False) -> bool:
    """True when a caller with `auth_ids` holds `perm` on a node with `acl`."""
    if skip_acl or not acl:
        return True
    for auth_id in auth_ids:
        if auth_id.scheme == "super":
            return True
    for entry in acl:
        if entry.perms & perm:
            acl_id = entry.id
            if acl_id.scheme == "world" and acl_id.id == "anyone":
                return True
            if acl_id.scheme in KNOWN_SCHEMES and id_matches(acl_id, auth_ids):
                return True
    return False


class InvalidACL(ValueError):
    pass


def fixup_acl(acl: Sequence[ACL] | None, auth_ids: Sequence[Id]) -> list[ACL]:
    """Validates an ACL for create/setACL and expands `auth` ids to the caller's own ids."""
    unique: list[ACL] = []
    for entry in acl or ():
        if entry not in unique:
            unique.append(entry)
    if not unique:
        raise InvalidACL("empty ACL")
    result: list[ACL] = []
    for entry in unique:
        ident = entry.id
        if ident is None or ident.scheme is None:
            raise InvalidACL("missing id")
        if ident.scheme == "world" and ident.id == "anyone":
            result.append(entry)
        elif ident.scheme == "auth":
            expanded = [ACL(entry.perms, cid) for cid in auth_ids if cid.scheme in AUTHENTICATED_SCHEMES]
            if not expanded:
                raise InvalidACL("auth scheme without authenticated ids")
            result.extend(expanded)
        elif ident.scheme in KNOWN_SCHEMES and is_valid_id(ident.scheme, ident.id):
            result.append(entry)
        else:
            raise InvalidACL(f"invalid id {ident.scheme}:{ident.id}")
    return result
