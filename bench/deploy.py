"""The servers a group of benchmark rows runs against: one standalone server or a 3-server ensemble.

Both kinds come from tests.support (ServerProcess, Ensemble): loopback only, free ports, a fresh
temporary directory, every process stopped by pid. A deployment gives the load generator its
connect string (for an ensemble every member's client port, followers first, so a single session
lands on a follower and sessions spread round robin put the fewest on the leader) and the pids
whose CPU counts as the server's.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.ensemble import Ensemble
from tests.support.servers import ApacheZkServer, ServerProcess, ZkpyServer, four_letter_word

SERVER_CLASSES: dict[str, type[ServerProcess]] = {"apache": ApacheZkServer, "zkpy": ZkpyServer}
TOPOLOGIES = ("standalone", "ensemble")
ENSEMBLE_SIZE = 3


class Deployment:
    """One side's servers for one group of rows. Subclasses say how they start and stop."""

    def __init__(self, side: str, workdir: Path, config: dict[str, str]) -> None:
        self.side = side
        self.workdir = workdir
        self.config = dict(config)

    def start(self, timeout_s: float) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def processes(self) -> dict[str, ServerProcess]:
        """Every server process by name (for logs and liveness), including stopped ones."""
        raise NotImplementedError

    @property
    def connect_string(self) -> str:
        raise NotImplementedError

    def pids(self) -> list[int]:
        return [p.process.pid for p in self.processes().values() if p.process is not None]

    def dead(self) -> str | None:
        """Why the deployment cannot serve any more, or None while every process runs."""
        for name, server in self.processes().items():
            if server.process is not None and server.process.poll() is not None:
                return f"{name} exited with {server.process.returncode}:\n{server.log_tail()}"
        return None

    def version(self) -> str:
        server = next(iter(self.processes().values()))
        try:
            reply = four_letter_word(server.port, "srvr", server.host, timeout_s=5.0)
        except OSError as e:
            return f"unknown ({e})"
        first = reply.strip().splitlines()[0] if reply.strip() else ""
        return first.removeprefix("Zookeeper version: ")

    def config_lines(self) -> dict[str, dict[str, str]]:
        return {name: server.config_lines() for name, server in self.processes().items()}

    def copy_logs(self, run_dir: Path, prefix: str) -> None:
        for name, server in self.processes().items():
            if server.log_path.exists():
                shutil.copyfile(server.log_path, run_dir / f"{prefix}-{name}.log")


class Standalone(Deployment):
    def __init__(self, side: str, workdir: Path, config: dict[str, str]) -> None:
        super().__init__(side, workdir, config)
        self.server = SERVER_CLASSES[side](workdir, extra_config=dict(config))

    def start(self, timeout_s: float) -> None:
        self.server.start(timeout_s=timeout_s)

    def stop(self) -> None:
        self.server.stop()

    def processes(self) -> dict[str, ServerProcess]:
        return {"server": self.server}

    @property
    def connect_string(self) -> str:
        return self.server.address


class EnsembleDeployment(Deployment):
    def __init__(self, side: str, workdir: Path, config: dict[str, str]) -> None:
        super().__init__(side, workdir, config)
        self.ensemble = Ensemble(workdir, [side] * ENSEMBLE_SIZE, extra_config=dict(config))
        self.leader_sid: int | None = None

    def start(self, timeout_s: float) -> None:
        try:
            self.ensemble.start(timeout_s=timeout_s)
            self.leader_sid = self.ensemble.leader()
        except BaseException:
            self.ensemble.stop()
            raise

    def stop(self) -> None:
        self.ensemble.stop()

    def processes(self) -> dict[str, ServerProcess]:
        return {f"server{sid}": self.ensemble.process(sid) for sid in self.ensemble.members}

    def member_order(self) -> list[int]:
        sids = sorted(self.ensemble.members)
        return sorted(sids, key=lambda sid: sid == self.leader_sid)

    @property
    def connect_string(self) -> str:
        return self.ensemble.connect_string(self.member_order())


def new_deployment(topology: str, side: str, workdir: Path, config: dict[str, str]) -> Deployment:
    if topology == "standalone":
        return Standalone(side, workdir, config)
    if topology == "ensemble":
        return EnsembleDeployment(side, workdir, config)
    raise ValueError(f"unknown topology {topology!r}")


class Keeper:
    """One side's deployment for a group of rows: started on first use, started afresh (new
    directory) when it died, so that one crash costs the row it happened in and not the rest of
    the group. Every start is followed by `warm_up` (unmeasured load: a JVM server reaches its
    steady state only after its JIT compiled the request path). Logs of every start are kept."""

    def __init__(self, side: str, topology: str, config: dict[str, str], log_prefix: Path,
                 start_timeout_s: float, warm_up: Callable[[Deployment], None],
                 say: Callable[[str], None]) -> None:
        self.side = side
        self.topology = topology
        self.config = config
        self.log_prefix = log_prefix
        self.start_timeout_s = start_timeout_s
        self.warm_up = warm_up
        self.say = say
        self.starts: list[dict[str, object]] = []
        self._deployment: Deployment | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None

    def get(self) -> Deployment:
        """The running deployment; raises when it cannot be started."""
        if self._deployment is not None and self._deployment.dead() is None:
            return self._deployment
        if self._deployment is not None:
            self.say(f"restarting after: {first_line(self._deployment.dead() or '')}")
        self.close()
        self._workdir = tempfile.TemporaryDirectory(prefix=f"zkpy-bench-{self.side}-{self.topology}-")
        deployment = new_deployment(self.topology, self.side, Path(self._workdir.name), self.config)
        self._deployment = deployment
        facts: dict[str, object] = {"topology": self.topology}
        self.starts.append(facts)
        self.say(f"starting ({', '.join(f'{k}={v}' for k, v in self.config.items())})")
        started_s = time.monotonic()
        try:
            deployment.start(self.start_timeout_s)
        except BaseException:
            self.close()
            raise
        facts.update(start_s=round(time.monotonic() - started_s, 2), version=deployment.version(),
                     config=deployment.config_lines())
        self.warm_up(deployment)
        return deployment

    def close(self) -> None:
        if self._deployment is not None:
            self._deployment.stop()
            self._deployment.copy_logs(self.log_prefix.parent,
                                       f"{self.log_prefix.name}-start{len(self.starts)}")
            self._deployment = None
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None


def first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0] if stripped else ""
