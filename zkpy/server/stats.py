"""Request counters and latencies, server-wide and per connection (ServerStats, ServerCnxn stats).

Latencies are in milliseconds, as `srvr`/`stat`/`cons` print them. Recording is a few integer
operations per reply: cheap enough for the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class LatencyStats:
    count: int = 0
    total_ms: int = 0
    min_ms: int = 0
    max_ms: int = 0

    def record(self, latency_ms: int) -> None:
        if self.count == 0 or latency_ms < self.min_ms:
            self.min_ms = latency_ms
        if latency_ms > self.max_ms:
            self.max_ms = latency_ms
        self.count += 1
        self.total_ms += latency_ms

    @property
    def avg_ms(self) -> float:
        return self.total_ms / self.count if self.count else 0.0

    def reset(self) -> None:
        self.count = self.total_ms = self.min_ms = self.max_ms = 0


@dataclass(slots=True)
class ServerStats:
    packets_received: int = 0
    packets_sent: int = 0
    auth_failed_count: int = 0
    latency: LatencyStats = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.latency = LatencyStats()

    def record_latency(self, latency_ms: int) -> None:
        self.latency.record(latency_ms)

    def reset(self) -> None:
        self.packets_received = self.packets_sent = 0
        self.latency.reset()


@dataclass(slots=True)
class ConnectionStats:
    established_ms: int = 0
    packets_received: int = 0
    packets_sent: int = 0
    last_op_code: int | None = None
    last_cxid: int = -1
    last_zxid: int = -1
    last_response_ms: int = 0
    last_latency_ms: int = 0
    latency: LatencyStats = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.latency = LatencyStats()

    def record(self, op: int, xid: int, latency_ms: int, zxid: int, now_ms: int) -> None:
        self.last_op_code = op
        self.last_cxid = xid
        self.last_zxid = zxid
        self.last_response_ms = now_ms
        self.last_latency_ms = latency_ms
        self.latency.record(latency_ms)

    @property
    def last_op(self) -> str:
        return OP_ABBREVIATIONS.get(self.last_op_code, "NA") if self.last_op_code is not None else "NA"

    def reset(self) -> None:
        self.packets_received = self.packets_sent = 0
        self.last_op_code = None
        self.last_cxid = self.last_zxid = -1
        self.last_response_ms = self.last_latency_ms = 0
        self.latency.reset()


# FinalRequestProcessor's lastOp names, shown by `cons`.
OP_ABBREVIATIONS = {
    -10: "SESS", -11: "CLOS", 1: "CREA", 15: "CREA", 19: "CREA", 21: "CREA", 2: "DELE", 3: "EXIS",
    4: "GETD", 5: "SETD", 6: "GETA", 7: "SETA", 8: "GETC", 12: "GETC", 9: "SYNC", 11: "PING",
    13: "CHEC", 14: "MULT", 22: "MLTR", 16: "RECO", 17: "CHKW", 18: "REMW", 101: "SETW",
    105: "STW2", 103: "GETE", 104: "GETACN", 106: "ADDW", 107: "HOMI",
}
