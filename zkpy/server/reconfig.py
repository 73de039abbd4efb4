"""The configuration a reconfig request asks for (PrepRequestProcessor's reconfig case).

Theory of operation
-------------------
Only the leader plans a reconfiguration; learners forward the request. `next_config` checks the
request against the last configuration this leader has seen (committed or proposed) and builds
the new majority quorum, as ZooKeeper 3.8 does:
- a proposed but uncommitted reconfig means RECONFIGINPROGRESS; `curConfigId` other than -1 must
  equal the last seen version (BADVERSION);
- `newMembers` (non-incremental) replaces the membership: comma or newline separated
  `server.N=spec` properties; otherwise `leavingServers` (comma separated sids) are removed and
  `joiningServers` (comma separated `server.N=spec`) added or replaced, each spec with a client
  port and with addresses no other member uses;
- the new configuration's version is the reconfig txn's zxid; it must keep at least two voters
  (one with standaloneEnabled=false), and the leader plus its synced followers must already be a
  quorum of it (NEWCONFIGNOQUORUM).
Malformed input is BADARGUMENTS; a sid that is not a number fails the whole request as Java's
NumberFormatException does (MARSHALLINGERROR). The caller then checks WRITE on /zookeeper/config.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from zkpy.jute.constants import Err
from zkpy.server.prep import KeeperError
from zkpy.server.properties import PropertiesSyntaxError, read_properties
from zkpy.server.server_spec import QuorumServer, parse_server_spec
from zkpy.zab.quorum import QuorumMaj, QuorumMember


class ReconfigRejected(KeeperError):
    """A refused reconfig: the client gets `code`, the log gets the message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code)
        self.message = message


def next_config(request: Any, *, current: QuorumMaj, last_seen: QuorumMaj, zxid: int,
                synced_voters: Iterable[int], standalone_enabled: bool = True) -> QuorumMaj:
    """The configuration `request` (a ReconfigRequest) asks for; raises ReconfigRejected."""
    if last_seen.version != current.version:
        raise ReconfigRejected(Err.RECONFIGINPROGRESS, "a reconfiguration is in progress")
    if request.curConfigId != -1 and request.curConfigId != last_seen.version:
        raise ReconfigRejected(
            Err.BADVERSION, f"Reconfiguration from version {request.curConfigId} failed -- last seen "
                            f"version is {last_seen.version}")
    if request.newMembers is not None:
        servers = _new_members(request.newMembers)
    else:
        servers = _incremental(last_seen, request.leavingServers, request.joiningServers)
    proposed = QuorumMaj((QuorumMember(s.sid, s.spec(), s.role == "participant") for s in servers), zxid)
    least = 2 if standalone_enabled else 1
    if len(proposed.voting_members) < least:
        raise ReconfigRejected(
            Err.BADARGUMENTS, f"Reconfig failed - new configuration must include at least {least} "
                              f"follower{'s' if least > 1 else ''}")
    if not proposed.contains_quorum(synced_voters):
        raise ReconfigRejected(
            Err.NEWCONFIGNOQUORUM,
            "Reconfig failed - there must be a connected and synced quorum in new configuration")
    return proposed


def _sid(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ReconfigRejected(Err.MARSHALLINGERROR, f"not a server id: {text!r}") from None


def _parse(sid: int, spec: str) -> QuorumServer:
    try:
        return parse_server_spec(sid, spec)
    except ValueError as error:
        raise ReconfigRejected(Err.BADARGUMENTS, str(error)) from None


def _new_members(text: str) -> list[QuorumServer]:
    try:
        entries = read_properties(text.replace(",", "\n"))
    except PropertiesSyntaxError as error:
        raise ReconfigRejected(Err.BADARGUMENTS, str(error)) from None
    servers = {}
    for entry in entries:
        if entry.key.startswith("server."):
            sid = _sid(entry.key[len("server."):])
            servers[sid] = _parse(sid, entry.value)
    if not servers:
        raise ReconfigRejected(Err.BADARGUMENTS, "no server.X entries in the new configuration")
    return list(servers.values())


def _incremental(last_seen: QuorumMaj, leaving: str | None, joining: str | None) -> list[QuorumServer]:
    servers = {sid: _parse(sid, member.spec) for sid, member in last_seen.members.items()}
    for part in _split(leaving, ","):
        servers.pop(_sid(part), None)
    for joiner in _split(joining, ","):
        parts = _split(joiner, "=")
        if len(parts) != 2:
            raise ReconfigRejected(Err.BADARGUMENTS, "Wrong format of server string")
        sid = _sid(parts[0][parts[0].rfind(".") + 1:])
        server = _parse(sid, parts[1])
        if server.client_port is None:
            raise ReconfigRejected(
                Err.BADARGUMENTS,
                "Wrong format of server string - each server should have at least 3 ports specified")
        for other in servers.values():
            if other.sid != sid and _addresses(server) & _addresses(other):
                raise ReconfigRejected(Err.BADARGUMENTS, f"Server address conflicts with server.{other.sid}")
        servers.pop(sid, None)
        servers[sid] = server
    return list(servers.values())


def _split(text: str | None, separator: str) -> list[str]:
    """Apache's StringUtils.split: trimmed parts, empty ones dropped."""
    if text is None:
        return []
    return [part.strip() for part in text.split(separator) if part.strip()]


def _addresses(server: QuorumServer) -> set[tuple[str, int]]:
    found = {(server.host, server.quorum_port), (server.host, server.election_port)}
    if server.client_port is not None:
        found.add((server.client_host or "0.0.0.0", server.client_port))
    return found
