"""Start and stop real servers on loopback for interop tests and benchmarks.

Both kinds share one shape: write a zoo.cfg into a temporary directory, start the process in its
own session, wait until it answers the `srvr` four-letter word, and kill it by pid afterwards.
`ZkpyServer` runs `bin/zkpy-server start-foreground`; `ApacheZkServer` runs Debian's Apache
ZooKeeper (`QuorumPeerMain`) as the oracle.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
ZKPY_SERVER = REPO_ROOT / "bin" / "zkpy-server"
ZOOKEEPER_JAR = Path("/usr/share/java/zookeeper.jar")
APACHE_CLASSPATH = ":".join(
    str(p)
    for p in (ZOOKEEPER_JAR, Path("/usr/share/java/slf4j-simple.jar"), Path("/usr/share/java/servlet-api.jar"))
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def four_letter_word(port: int, word: str, host: str = "127.0.0.1", timeout_s: float = 5.0) -> str:
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.sendall(word.encode("ascii"))
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def apache_zookeeper_available() -> bool:
    return ZOOKEEPER_JAR.exists()


@dataclass
class ServerProcess:
    """One server process with its own config, data directory and log file."""

    workdir: Path
    extra_config: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = None

    @property
    def config_path(self) -> Path:
        return self.workdir / "zoo.cfg"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def config_lines(self) -> dict[str, str]:
        lines = {
            "tickTime": "2000",
            "dataDir": str(self.data_dir),
            "clientPort": str(self.port),
            "clientPortAddress": self.host,
            "4lw.commands.whitelist": "*",
            "admin.enableServer": "false",
        }
        lines.update(self.extra_config)
        return lines

    def write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        text = "".join(f"{key}={value}\n" for key, value in self.config_lines().items())
        self.config_path.write_text(text)

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def start(self, timeout_s: float = 30.0) -> ServerProcess:
        self.write_config()
        self.start_detached()
        self.wait_serving(timeout_s)
        return self

    def start_detached(self) -> None:
        """Launches the process on the config already written, without waiting for it."""
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.workdir,
            env=self.environment(),
            start_new_session=True,
        )
        log.close()

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log_tail()}")

    def wait_serving(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if "Mode:" in four_letter_word(self.port, "srvr", self.host, timeout_s=1.0):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"server on port {self.port} did not start:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def kill(self) -> None:
        """kill -9, as a crash would."""
        self._signal_and_wait(signal.SIGKILL, 10.0)

    def stop(self, timeout_s: float = 10.0) -> None:
        self._signal_and_wait(signal.SIGTERM, timeout_s)

    def _signal_and_wait(self, signum: int, timeout_s: float) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signum)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=timeout_s)
        self.process = None

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class ZkpyServer(ServerProcess):
    def command(self) -> list[str]:
        return [str(ZKPY_SERVER), "start-foreground", str(self.config_path)]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("ZKPY_LOG_FORMAT", "console")
        return env


@dataclass
class ApacheZkServer(ServerProcess):
    def command(self) -> list[str]:
        return [
            "java",
            "-Xmx1g",
            f"-Dzookeeper.log.dir={self.workdir}",
            "-Dzookeeper.admin.enableServer=false",
            "-cp",
            APACHE_CLASSPATH,
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            str(self.config_path),
        ]
