"""The ``server.<sid>=...`` line of zoo.cfg and of a dynamic config file.

Theory of operation
-------------------
Mirrors ``QuorumPeer.QuorumServer(long sid, String addressStr)`` in Apache ZooKeeper 3.9: the
value is ``host:quorumPort:electionPort[:participant|observer][;[clientHost:]clientPort]``,
split with Java's ``String.split`` (trailing empty parts vanish) and
``ConfigUtils.getHostAndPort`` (``[v6-literal]:port`` is one host). Only a port on the client
side means every local address. Multiple addresses (``a:1:2|b:1:2``) need
``multiAddress.enabled=true`` in ZooKeeper; zkpy rejects them either way because its election
transport speaks only the single-address protocol. Host names are kept as written, never
resolved. Errors are ``ValueError`` with ZooKeeper's wording; the config parser adds file, line
and key.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from zkpy.server.properties import parse_java_int

_WRONG_FORMAT = (
    " does not have the form server_config or server_config;client_config where server_config"
    " is host:port:port or host:port:port:type and client_config is port or host:port"
)


class LearnerType(StrEnum):
    PARTICIPANT = "participant"
    OBSERVER = "observer"


@dataclass(frozen=True, slots=True)
class QuorumServer:
    """One member of the ensemble as a ``server.<sid>`` line describes it."""

    sid: int
    host: str
    quorum_port: int
    election_port: int
    role: LearnerType = LearnerType.PARTICIPANT
    client_host: str | None = None
    """None when only a port is given: ZooKeeper then listens on every address (0.0.0.0)."""
    client_port: int | None = None

    def spec(self) -> str:
        """The value as ZooKeeper prints it (QuorumServer.toString), e.g. in /zookeeper/config."""
        text = f"{_bracket(self.host)}:{self.quorum_port}:{self.election_port}:{self.role}"
        if self.client_port is not None:
            text += f";{_bracket(self.client_host or '0.0.0.0')}:{self.client_port}"
        return text


def parse_learner_type(text: str) -> LearnerType:
    try:
        return LearnerType(text.strip().lower())
    except ValueError:
        raise ValueError(f"Unrecognised peertype: {text}") from None


def parse_server_spec(sid: int, value: str, *, multi_address_enabled: bool = False) -> QuorumServer:
    """Parse the value of a ``server.<sid>`` line."""
    halves = java_split(value, ";")
    if "|" in halves[0]:
        if not multi_address_enabled:
            raise ValueError(
                "Multiple address feature is disabled, but multiple addresses were specified"
                f" for sid {sid}"
            )
        raise ValueError("zkpy does not support multiple addresses per server")
    server_parts = _host_and_port(halves[0])
    if len(halves) > 2 or not 3 <= len(server_parts) <= 4:
        raise ValueError(value + _WRONG_FORMAT)
    client_host: str | None = None
    client_port: int | None = None
    if len(halves) == 2:
        client_parts = _host_and_port(halves[1])
        if len(client_parts) > 2:
            raise ValueError(value + _WRONG_FORMAT)
        client_host = client_parts[0] if len(client_parts) == 2 else None
        client_port = _port(client_host or "0.0.0.0", client_parts[-1])
    host = server_parts[0]
    quorum_port = _port(host, server_parts[1])
    election_port = _port(host, server_parts[2])
    if quorum_port == election_port:
        raise ValueError(
            "Client and election port must be different! Please update the configuration file"
            f" on server.{sid}"
        )
    role = LearnerType.PARTICIPANT
    if len(server_parts) == 4:
        role = parse_learner_type(server_parts[3])
    return QuorumServer(sid, host, quorum_port, election_port, role, client_host, client_port)


def java_split(text: str, separator: str) -> list[str]:
    """``String.split`` with a literal separator: trailing empty strings are dropped."""
    parts = text.split(separator)
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return parts


def _host_and_port(text: str) -> list[str]:
    if not text.startswith("["):
        return java_split(text, ":")
    close = text.find("]")
    if close < 0:
        raise ValueError(f"{text} starts with '[' but has no matching ']:'")
    if close + 2 == len(text):
        raise ValueError(f"{text} doesn't have a port after colon")
    if close + 2 < len(text):
        return [text[1:close], *java_split(text[close + 2 :], ":")]
    return [text[1:close]]


def _port(host: str, text: str) -> int:
    try:
        port = parse_java_int(text)
    except ValueError:
        raise ValueError(f"Address unresolved: {host}:{text}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"port out of range: {port}")
    return port


def _bracket(host: str) -> str:
    """InetSocketAddress.getHostString, bracketed as QuorumServer.delimitedHostString does:
    Java spells an IPv6 literal out in full (0:0:0:0:0:0:0:1)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 4:
        return host
    groups = address.exploded.split(":")
    return "[" + ":".join(f"{int(group, 16):x}" for group in groups) + "]"


def servers_of(members: Mapping[int, str]) -> dict[int, QuorumServer]:
    """Each `server.<sid>` value of a configuration, parsed (e.g. QuorumMaj specs by sid)."""
    return {sid: parse_server_spec(sid, spec) for sid, spec in members.items()}
