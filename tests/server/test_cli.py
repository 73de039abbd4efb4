"""zkpy-server, the zkServer.sh of zkpy: verbs, texts, exit codes, config lookup, pid file.

`status` is checked against a real Apache ZooKeeper; `start`/`stop` against zkpy's own runtime
(skipped until zkpy/server/runtime/main.py exists)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from zkpy.server import cli as cli_module
from zkpy.server.cli import cli
from zkpy.server.config import ServerConfig
from zkpy.server.version import ZOOKEEPER_VERSION
from tests.support.servers import (
    ApacheZkServer,
    apache_zookeeper_available,
    four_letter_word,
    free_port,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
CLEAN_ENV = {name: None for name in (
    "ZOOCFGDIR", "ZOOCFG", "ZOOPIDFILE", "ZOO_LOG_DIR", "ZOO_DATADIR_AUTOCREATE_DISABLE",
    "ZKPY_LOG_LEVEL", "ZKPY_LOG_FORMAT",
)}
needs_apache = pytest.mark.skipif(
    not apache_zookeeper_available(), reason="Apache ZooKeeper (Debian's zookeeper.jar) needed"
)


def run(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env={**CLEAN_ENV, **(env or {})},
                              prog_name="zkpy-server")


def run_process(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zkpy.server.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def write_config(directory: Path, name: str = "zoo.cfg", **keys: object) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    settings = {"tickTime": 2000, "dataDir": directory / "data", **keys}
    path = directory / name
    path.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    return path


@pytest.fixture
def dummy_server() -> Iterator[subprocess.Popen[bytes]]:
    """A process whose command line names zkpy, standing in for a running server."""
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "zkpy.server.cli"],
        start_new_session=True,
    )
    command_line = Path(f"/proc/{process.pid}/cmdline")
    deadline = time.monotonic() + 10
    while command_line.exists() and b"zkpy" not in command_line.read_bytes():
        assert time.monotonic() < deadline, "the stand-in server did not start"
        time.sleep(0.01)
    yield process
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)


# --- pure verbs -------------------------------------------------------------------------------


def test_version() -> None:
    result = run("version")
    assert result.exit_code == 0
    number, _, built = ZOOKEEPER_VERSION.partition(", built on ")
    assert result.stdout == f"Apache ZooKeeper, version {number} {built}\n"
    assert result.stdout.startswith("Apache ZooKeeper, version 3.9.3-zkpy-")
    assert result.stderr == f"Using config: {REPO_ROOT / 'conf' / 'zoo.cfg'}\n"


@pytest.mark.parametrize("args", [(), ("bogus",), ("bogus", "a", "b"), ("upgrade",)])
def test_no_or_unknown_verb_prints_usage_and_exits_zero(args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        "Usage: zkpy-server [--config <conf-dir>] "
        "{start|start-foreground|stop|version|restart|status|print-cmd}"
    )


def test_print_cmd(tmp_path: Path) -> None:
    result = run("print-cmd", str(tmp_path / "zoo.cfg"),
                 env={"ZOO_LOG_DIR": str(tmp_path / "logs"), "USER": "alice",
                      "HOSTNAME": "box"})
    assert result.exit_code == 0
    assert result.stdout == (
        f'"{sys.executable}" -m zkpy.server.cli start-foreground "{tmp_path / "zoo.cfg"}" '
        f'> "{tmp_path / "logs" / "zookeeper-alice-server-box.out"}" 2>&1 < /dev/null\n'
    )


def test_default_log_dir_is_the_repository_logs() -> None:
    result = run("print-cmd", env={"USER": "u", "HOSTNAME": "h"})
    assert f'> "{REPO_ROOT / "logs" / "zookeeper-u-server-h.out"}"' in result.stdout


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (("print-cmd",), {}, "{repo}/conf/zoo.cfg"),
        (("print-cmd",), {"ZOOCFGDIR": "{tmp}/etc"}, "{tmp}/etc/zoo.cfg"),
        (("print-cmd",), {"ZOOCFGDIR": "{tmp}/etc", "ZOOCFG": "other.cfg"}, "{tmp}/etc/other.cfg"),
        (("--config", "{tmp}/dir", "print-cmd"), {"ZOOCFGDIR": "{tmp}/etc"}, "{tmp}/dir/zoo.cfg"),
        (("--config", "{tmp}/dir", "print-cmd", "my.cfg"), {}, "{tmp}/dir/my.cfg"),
        (("print-cmd", "my.cfg"), {"ZOOCFGDIR": "{tmp}/etc"}, "{tmp}/etc/my.cfg"),
        (("print-cmd", "{tmp}/abs.cfg"), {"ZOOCFGDIR": "{tmp}/etc"}, "{tmp}/abs.cfg"),
        (("print-cmd", "sub/rel.cfg"), {}, "sub/rel.cfg"),
    ],
)
def test_config_lookup_like_zkenv(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], expected: str
) -> None:
    def fill(text: str) -> str:
        return text.format(tmp=tmp_path, repo=REPO_ROOT)

    result = run(*map(fill, args), env={key: fill(value) for key, value in env.items()})
    assert result.exit_code == 0, result.output
    assert result.stderr == f"Using config: {fill(expected)}\n"


# --- stop -------------------------------------------------------------------------------------


def test_stop_without_pid_file(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = run("stop", str(config))
    assert result.exit_code == 0
    assert result.stdout == (
        "Stopping zookeeper ... no zookeeper to stop (could not find file "
        f"{tmp_path / 'data' / 'zookeeper_server.pid'})\n"
    )
    assert result.stderr == f"Using config: {config}\n"


def test_stop_honours_zoopidfile(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = run("stop", str(config), env={"ZOOPIDFILE": str(tmp_path / "x.pid")})
    assert result.stdout.endswith(f"(could not find file {tmp_path / 'x.pid'})\n")


def test_stop_without_config_file_still_answers(tmp_path: Path) -> None:
    result = run("stop", str(tmp_path / "missing.cfg"))
    assert result.exit_code == 0
    assert result.stdout == ("Stopping zookeeper ... no zookeeper to stop (could not find file "
                             "/zookeeper_server.pid)\n")
    assert "cannot read" in result.stderr


def test_stop_signals_the_server_and_waits(
    tmp_path: Path, dummy_server: subprocess.Popen[bytes]
) -> None:
    config = write_config(tmp_path)
    pid_file = tmp_path / "data" / "zookeeper_server.pid"
    pid_file.parent.mkdir()
    pid_file.write_text(str(dummy_server.pid))
    result = run("stop", str(config))
    assert result.exit_code == 0
    assert result.stdout == "Stopping zookeeper ... STOPPED\n"
    assert not pid_file.exists()
    assert dummy_server.wait(timeout=5) == -signal.SIGTERM


def test_stop_with_stale_pid_file(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    pid_file = tmp_path / "data" / "zookeeper_server.pid"
    pid_file.parent.mkdir()
    pid_file.write_text("999999999")
    result = run("stop", str(config))
    assert (result.exit_code, result.stdout) == (0, "Stopping zookeeper ... STOPPED\n")
    assert "no zkpy server runs as process 999999999" in result.stderr
    assert not pid_file.exists()


def test_stop_leaves_a_foreign_process_alone(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        pid_file = tmp_path / "data" / "zookeeper_server.pid"
        pid_file.parent.mkdir()
        pid_file.write_text(str(sleeper.pid))
        result = run("stop", str(config))
        assert result.stdout == "Stopping zookeeper ... STOPPED\n"
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait(timeout=10)


# --- start ------------------------------------------------------------------------------------


def test_start_with_invalid_config(tmp_path: Path) -> None:
    config = write_config(tmp_path, clientPort="abc")
    result = run("start", str(config))
    assert result.exit_code == 1
    assert result.stdout == "Starting zookeeper ... FAILED TO START\n"
    assert f"{config}:3: clientPort: 'abc' is not an integer" in result.stderr


def test_start_when_already_running(
    tmp_path: Path, dummy_server: subprocess.Popen[bytes]
) -> None:
    config = write_config(tmp_path, clientPort=free_port())
    pid_file = tmp_path / "data" / "zookeeper_server.pid"
    pid_file.parent.mkdir()
    pid_file.write_text(str(dummy_server.pid))
    try:
        result = run("start", str(config), env={"ZOO_LOG_DIR": str(tmp_path / "logs")})
        assert result.exit_code == 1
        assert result.stdout == (
            f"Starting zookeeper ... already running as process {dummy_server.pid}.\n"
        )
    finally:
        pid = cli_module.read_pid(pid_file)
        if pid not in (None, dummy_server.pid):
            os.kill(pid, signal.SIGKILL)


def test_start_refuses_missing_data_dir_when_autocreate_is_disabled(tmp_path: Path) -> None:
    config = write_config(tmp_path, clientPort=free_port())
    result = run("start", str(config), env={"ZOO_DATADIR_AUTOCREATE_DISABLE": "1"})
    assert result.exit_code == 1
    assert result.stdout == (f"ZooKeeper data directory is missing at {tmp_path / 'data'} fix "
                             "the path or run initialize\n")


# --- start-foreground -------------------------------------------------------------------------


def test_start_foreground_with_invalid_config_exits_2(tmp_path: Path) -> None:
    config = write_config(tmp_path, tickTime=0)
    result = run("start-foreground", str(config))
    assert result.exit_code == 2
    assert f"{config}:1: tickTime: tickTime is not set" in result.stderr


def test_start_foreground_with_missing_config_exits_2(tmp_path: Path) -> None:
    result = run("start-foreground", str(tmp_path / "missing.cfg"))
    assert result.exit_code == 2
    assert "missing.cfg: cannot read" in result.stderr


RuntimeCalls = list[tuple[ServerConfig, Path, dict[str, str]]]


@pytest.fixture
def fake_runtime(monkeypatch: pytest.MonkeyPatch) -> RuntimeCalls:
    calls: RuntimeCalls = []

    def fake_run(config: ServerConfig, config_path: Path) -> int:
        calls.append((config, config_path, {k: os.environ.get(k, "") for k in
                                            ("ZKPY_LOG_LEVEL", "ZKPY_LOG_FORMAT")}))
        return 7

    module = types.ModuleType("zkpy.server.runtime.main")
    module.run = fake_run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "zkpy.server.runtime.main", module)
    return calls


def test_start_foreground_runs_the_runtime(
    tmp_path: Path, fake_runtime: RuntimeCalls
) -> None:
    config = write_config(tmp_path, clientPort=2181)
    result = run("start-foreground", "--log-level", "debug", "--log-format", "json",
                 str(config))
    assert result.exit_code == 7
    [(server_config, path, env)] = fake_runtime
    assert path == config and server_config.client_port == 2181
    assert env == {"ZKPY_LOG_LEVEL": "DEBUG", "ZKPY_LOG_FORMAT": "json"}


def test_start_foreground_takes_log_options_from_the_environment(
    tmp_path: Path, fake_runtime: RuntimeCalls
) -> None:
    config = write_config(tmp_path, clientPort=2181)
    result = run("start-foreground", str(config),
                 env={"ZKPY_LOG_LEVEL": "warning", "ZKPY_LOG_FORMAT": "console"})
    assert result.exit_code == 7
    assert fake_runtime[0][2] == {"ZKPY_LOG_LEVEL": "WARNING", "ZKPY_LOG_FORMAT": "console"}


def test_start_foreground_rejects_unknown_log_format(tmp_path: Path) -> None:
    result = run("start-foreground", "--log-format", "xml", str(write_config(tmp_path)))
    assert result.exit_code == 2


# --- status -----------------------------------------------------------------------------------


def test_status_with_nothing_listening(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, clientPort=port, clientPortAddress="127.0.0.1")
    result = run("status", str(config))
    assert result.exit_code == 1
    assert result.stdout == (
        f"Client port found: {port}. Client address: 127.0.0.1. Client SSL: false.\n"
        "Error contacting service. It is probably not running.\n"
    )


def test_status_without_any_client_port(tmp_path: Path) -> None:
    result = run("status", str(write_config(tmp_path)))
    assert result.exit_code == 1
    assert result.stdout == (
        "myid could not be determined, will not able to locate clientPort in the server "
        "configs.\n"
        "Client port not found. Looking for secureClientPort in the static config.\n"
        "Unable to find either secure or unsecure client port in any configs. Terminating.\n"
    )


def test_status_looks_in_the_dynamic_config_file(tmp_path: Path) -> None:
    port = free_port()
    dynamic = tmp_path / "zoo.cfg.dynamic.100000000"
    dynamic.write_text(f"server.3=127.0.0.1:2888:3888:participant;127.0.0.1:{port}\n")
    config = write_config(tmp_path, dynamicConfigFile=dynamic)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "myid").write_text("3\n")
    result = run("status", str(config))
    assert result.exit_code == 1
    assert result.stdout == (
        "Client port not found in static config file. Looking in dynamic config file.\n"
        f"Client port found: {port}. Client address: 127.0.0.1. Client SSL: false.\n"
        "Error contacting service. It is probably not running.\n"
    )


def test_status_falls_back_to_secure_client_port(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, secureClientPort=port, secureClientPortAddress="127.0.0.1")
    result = run("status", str(config))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[1:3] == [
        "Client port not found. Looking for secureClientPort in the static config.",
        f"Client port found: {port}. Client address: 127.0.0.1. Client SSL: true.",
    ]
    assert lines[-1] == "Error contacting service. It is probably not running."


@pytest.mark.interop
@needs_apache
def test_status_against_apache_zookeeper(tmp_path: Path) -> None:
    with ApacheZkServer(tmp_path / "zk") as server:
        result = run("status", str(server.config_path))
        assert result.exit_code == 0, result.output
        assert result.stdout == (
            f"Client port found: {server.port}. Client address: 127.0.0.1. "
            "Client SSL: false.\nMode: standalone\n"
        )
        result = run("--config", str(server.workdir), "status")
        assert (result.exit_code, result.stdout.splitlines()[-1]) == (0, "Mode: standalone")


class _ServerLineZk(ApacheZkServer):
    """Standalone Apache ZooKeeper whose client port comes from server.<myid> (no clientPort)."""

    def config_lines(self) -> dict[str, str]:
        lines = super().config_lines()
        del lines["clientPort"], lines["clientPortAddress"]
        lines["server.1"] = f"127.0.0.1:{free_port()}:{free_port()};127.0.0.1:{self.port}"
        return lines

    def write_config(self) -> None:
        super().write_config()
        (self.data_dir / "myid").write_text("1\n")


@pytest.mark.interop
@needs_apache
def test_status_finds_the_client_port_in_the_server_line(tmp_path: Path) -> None:
    with _ServerLineZk(tmp_path / "zk") as server:
        result = run("status", str(server.config_path))
        assert result.exit_code == 0, result.output
        assert result.stdout == (
            f"Client port found: {server.port}. Client address: 127.0.0.1. "
            "Client SSL: false.\nMode: standalone\n"
        )


ZKSERVER_SH = Path("/usr/share/zookeeper/bin/zkServer.sh")


@pytest.mark.interop
@needs_apache
@pytest.mark.skipif(not ZKSERVER_SH.exists(), reason="Debian's zkServer.sh is needed")
def test_same_stdout_and_exit_codes_as_zkserver_sh(tmp_path: Path) -> None:
    idle = write_config(tmp_path / "idle", clientPort=free_port())

    def both(verb: str, config: Path) -> None:
        theirs = subprocess.run([str(ZKSERVER_SH), verb, str(config)], capture_output=True,
                                text=True, timeout=60)
        ours = run_process(verb, str(config), env=dict(os.environ))
        assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout)
        assert ours.stderr == f"Using config: {config}\n"

    with ApacheZkServer(tmp_path / "zk") as server:
        both("status", server.config_path)
    both("status", idle)
    both("stop", idle)


# --- start, status, restart, stop against zkpy itself ------------------------------------------

RUNTIME = REPO_ROOT / "zkpy" / "server" / "runtime" / "main.py"


@pytest.mark.interop
@pytest.mark.skipif(not RUNTIME.exists(), reason="zkpy.server.runtime.main is not written yet")
def test_start_status_restart_stop_zkpy(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, clientPort=port, clientPortAddress="127.0.0.1",
                          **{"admin.enableServer": "false"})
    env = {**{k: v for k, v in os.environ.items() if k not in CLEAN_ENV},
           "ZOO_LOG_DIR": str(tmp_path / "logs"), "ZKPY_LOG_FORMAT": "console"}
    pid_file = tmp_path / "data" / "zookeeper_server.pid"
    try:
        started = run_process("start", str(config), env=env)
        assert (started.returncode, started.stdout) == (0, "Starting zookeeper ... STARTED\n"), \
            started.stderr
        assert started.stderr == f"Using config: {config}\n"
        pid = int(pid_file.read_text())
        _wait_for_srvr(port)
        status = run_process("status", str(config), env=env)
        assert (status.returncode, status.stdout.splitlines()[-1]) == (0, "Mode: standalone")

        again = run_process("start", str(config), env=env)
        assert (again.returncode, again.stdout) == (
            1, f"Starting zookeeper ... already running as process {pid}.\n")

        restarted = run_process("restart", str(config), env=env)
        assert restarted.returncode == 0, restarted.stderr
        assert restarted.stdout == ("Stopping zookeeper ... STOPPED\n"
                                    "Starting zookeeper ... STARTED\n")
        new_pid = int(pid_file.read_text())
        assert new_pid != pid and not cli_module.is_running_server(pid)
        _wait_for_srvr(port)

        stopped = run_process("stop", str(config), env=env)
        assert (stopped.returncode, stopped.stdout) == (0, "Stopping zookeeper ... STOPPED\n")
        assert not pid_file.exists() and not cli_module.is_running_server(new_pid)
        status = run_process("status", str(config), env=env)
        assert status.returncode == 1
        assert status.stdout.endswith("Error contacting service. It is probably not running.\n")
        out_files = list((tmp_path / "logs").glob("zookeeper-*-server-*.out"))
        assert len(out_files) == 1
    finally:
        pid = cli_module.read_pid(pid_file)
        if pid is not None and cli_module.is_running_server(pid):
            os.kill(pid, signal.SIGKILL)


def _wait_for_srvr(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if "Mode:" in four_letter_word(port, "srvr", timeout_s=1.0):
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"nothing answers srvr on port {port}")
