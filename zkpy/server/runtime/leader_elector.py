"""Leader election of a quorum peer: the FastLeaderElection core on a live election port.

Theory of operation
-------------------
`LeaderElector` is the asyncio host of `zkpy.zab.election.Election` (the deterministic
FastLeaderElection) on an `ElectionPort` (QuorumCnxManager). It lives as long as the server:
- every message from the port is decoded as a notification and fed to the core; a malformed
  one is skipped with a log line and the connection stays, as FastLeaderElection's
  WorkerReceiver skips it;
- the core's effects are carried out at once: `Send` to one peer, `Broadcast` to each listed
  peer (the port dials the unconnected ones), `Decided` ends the running `look_for_leader`;
- after every input one timer is (re)armed for `next_deadline_ms()` on a monotonic
  millisecond clock, and fires `tick`.
While the server leads, follows or observes, the core keeps answering LOOKING peers with the
settled vote, so nothing here stops between elections; `look_for_leader` starts a new round.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Protocol

import structlog

from zkpy.server.config import ServerConfig
from zkpy.server.properties import parse_java_int
from zkpy.server.server_spec import servers_of
from zkpy.server.runtime.election_port import DEFAULT_CONNECT_TIMEOUT_MS, Address, ElectionPort
from zkpy.zab.election import (
    MAX_NOTIFICATION_INTERVAL_MS,
    MIN_NOTIFICATION_INTERVAL_MS,
    Broadcast,
    Decided,
    Effect,
    Election,
    Send,
)
from zkpy.zab.election_wire import (
    NotificationError,
    PeerState,
    decode_notification,
    encode_notification,
)
from zkpy.zab.quorum import QuorumMaj
from zkpy.zab.zxid import hex_long

log = structlog.get_logger("zkpy.election")


class ElectorClosedError(RuntimeError):
    """The elector was closed while (or before) looking for a leader."""


class ElectionHooks(Protocol):
    """What a role (leading, following) tells the election it came from."""

    def update_current_epoch(self, epoch: int) -> None: ...

    def leave_role(self) -> None: ...


def monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class LeaderElector:
    """FastLeaderElection over the election port; see the module docstring."""

    def __init__(
        self,
        my_sid: int,
        verifier: QuorumMaj,
        addresses: Mapping[int, Address],
        *,
        listen_host: str | None = None,
        connect_timeout_ms: int = DEFAULT_CONNECT_TIMEOUT_MS,
        handshake_timeout_ms: int = DEFAULT_CONNECT_TIMEOUT_MS,
        min_notification_interval_ms: int = MIN_NOTIFICATION_INTERVAL_MS,
        max_notification_interval_ms: int = MAX_NOTIFICATION_INTERVAL_MS,
        clock_ms: Callable[[], int] = monotonic_ms,
    ) -> None:
        """`addresses` maps every member's sid (ours included) to its election address."""
        self.my_sid = my_sid
        self.election = Election(
            my_sid,
            verifier,
            min_notification_interval_ms=min_notification_interval_ms,
            max_notification_interval_ms=max_notification_interval_ms,
        )
        self.port = ElectionPort(
            my_sid,
            addresses,
            self._on_message,
            on_link_lost=self._on_link_lost,
            listen_host=listen_host,
            connect_timeout_ms=connect_timeout_ms,
            handshake_timeout_ms=handshake_timeout_ms,
        )
        self._clock_ms = clock_ms
        self._timer: asyncio.TimerHandle | None = None
        self._decision: asyncio.Future[Decided] | None = None
        self._started = False
        self._closed = False

    @classmethod
    def from_config(cls, config: ServerConfig) -> LeaderElector:
        """The elector of server `config.server_id` of a quorum configuration."""
        if config.server_id is None or config.server_id not in config.servers:
            raise ValueError(f"server id {config.server_id} is not one of the server.N lines")
        me = config.servers[config.server_id]
        verifier = QuorumMaj.from_specs(
            {sid: server.spec() for sid, server in config.servers.items()}, config.config_version
        )
        connect_timeout_ms = _int_setting(config, "cnxTimeout", DEFAULT_CONNECT_TIMEOUT_MS)
        # QuorumPeer's socket timeout, which bounds the wait for a handshake.
        socket_timeout_ms = _int_setting(config, "quorumCnxnTimeoutMs", -1)
        if socket_timeout_ms <= 0:
            socket_timeout_ms = config.sync_limit * config.tick_time_ms or connect_timeout_ms
        listen_host = None
        if config.quorum_listen_on_all_ips:
            listen_host = "::" if ":" in me.host else "0.0.0.0"
        return cls(
            config.server_id,
            verifier,
            {sid: (server.host, server.election_port) for sid, server in config.servers.items()},
            listen_host=listen_host,
            connect_timeout_ms=connect_timeout_ms,
            handshake_timeout_ms=socket_timeout_ms,
            min_notification_interval_ms=_int_setting(
                config, "fastleader.minNotificationInterval", MIN_NOTIFICATION_INTERVAL_MS
            ),
            max_notification_interval_ms=_int_setting(
                config, "fastleader.maxNotificationInterval", MAX_NOTIFICATION_INTERVAL_MS
            ),
        )

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on the election port; from now on LOOKING peers get answers."""
        if self._closed:
            raise ElectorClosedError("the elector is closed")
        if not self._started:
            await self.port.start()
            self._started = True

    async def close(self) -> None:
        """Stop the timer, fail a running `look_for_leader`, close every socket. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._decision is not None and not self._decision.done():
            self._decision.set_exception(ElectorClosedError("the elector was closed"))
        await self.port.close()

    # --- election ------------------------------------------------------------------------------

    async def look_for_leader(self, current_epoch: int, last_zxid: int) -> Decided:
        """Run one election round (QuorumPeer in LOOKING) until this server knows its leader."""
        if self._closed:
            raise ElectorClosedError("the elector is closed")
        if not self._started:
            raise RuntimeError("start() the elector first")
        if self._decision is not None:
            raise RuntimeError("an election is already running")
        decision: asyncio.Future[Decided] = asyncio.get_running_loop().create_future()
        self._decision = decision
        try:
            effects = self.election.start(current_epoch, last_zxid, self._clock_ms())
            log.info(
                "election started",
                sid=self.my_sid,
                epoch=current_epoch,
                zxid=hex_long(last_zxid),
                round=self.election.logical_clock,
            )
            self._apply(effects)
            return await decision
        finally:
            self._decision = None

    def reconfigure(self, verifier: QuorumMaj) -> None:
        """A new configuration is in force: vote by it and reach its new members."""
        self.election.reconfigure(verifier)
        for sid, server in servers_of(verifier.specs()).items():
            self.port.addresses.setdefault(sid, (server.host, server.election_port))

    def update_current_epoch(self, epoch: int) -> None:
        """The ensemble established `epoch`: peers that ask are told the vote with it."""
        self.election.update_current_epoch(epoch)

    def leave_role(self) -> None:
        """The role (leading, following) is ending: notifications now wait for the next round."""
        self.election.leave_role()

    @property
    def looking(self) -> bool:
        return self.election.looking

    # --- plumbing ------------------------------------------------------------------------------

    def _on_message(self, sid: int, payload: bytes) -> None:
        if self.election.logical_clock == 0:
            # Before the first round the core has no vote to answer with and would only queue
            # the message; the sender re-sends on its own timeout.
            return
        try:
            notification = decode_notification(payload)
        except NotificationError as e:
            log.warning("malformed notification skipped", sid=sid, reason=str(e))
            return
        self.election.reachable = self.port.connected_sids()
        self._apply(self.election.on_notification(sid, notification, self._clock_ms()))

    def _on_link_lost(self, sid: int) -> None:
        self._apply(self.election.on_link_lost(self.port.connected_sids(), self._clock_ms()))

    def _on_timer(self) -> None:
        self._timer = None
        self.election.reachable = self.port.connected_sids()
        self._apply(self.election.tick(self._clock_ms()))

    def _apply(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Send):
                self.port.send(effect.to_sid, encode_notification(effect.notification))
            elif isinstance(effect, Broadcast):
                payload = encode_notification(effect.notification)
                for sid in effect.to_sids:
                    self.port.send(sid, payload)
            else:
                self._decided(effect)
        self._arm_timer()

    def _decided(self, decided: Decided) -> None:
        log.info(
            "election decided",
            sid=self.my_sid,
            leader=decided.leader_sid,
            state=PeerState.name_of(decided.state),
            election_epoch=hex_long(decided.vote.election_epoch),
            took_ms=decided.elapsed_ms,
        )
        if self._decision is not None and not self._decision.done():
            self._decision.set_result(decided)

    def _arm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline_ms = self.election.next_deadline_ms()
        if deadline_ms is None or self._closed:
            return
        # A timer may fire a little early (libuv caches its clock); tick then does nothing
        # and the timer is armed again for the rest.
        delay_ms = max(deadline_ms - self._clock_ms(), 0)
        self._timer = asyncio.get_running_loop().call_later(delay_ms / 1000, self._on_timer)


def _int_setting(config: ServerConfig, key: str, default: int) -> int:
    """A zoo.cfg key ZooKeeper reads as a Java system property (Integer.getInteger)."""
    text = config.extra.get(key)
    if text is None:
        return default
    try:
        return parse_java_int(text)
    except ValueError:
        # docs/decisions/0001: a malformed system-property key stops the server.
        raise ValueError(f"{key}: {text!r} is not an integer") from None
