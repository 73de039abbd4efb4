"""zkpy-server: the zkServer.sh of zkpy, with its verbs, texts and exit codes.

Theory of operation
-------------------
Operators, init scripts and probes drive Apache ZooKeeper through ``zkServer.sh`` and key on its
stdout lines and exit codes, so each verb here prints what the script prints:

- ``start`` spawns ``<python> -m zkpy.server.cli start-foreground <zoo.cfg>`` in a new session
  with output to ``$ZOO_LOG_DIR/zookeeper-$USER-server-$HOSTNAME.out``, writes its pid to
  ``$ZOOPIDFILE`` (default ``<dataDir>/zookeeper_server.pid``), waits one second and checks that
  it still runs. ``stop`` sends SIGTERM to that pid, removes the pid file and, unlike the script,
  waits (bounded) for the process to exit, so that ``restart`` never races the old server.
- ``status`` finds the client address the way the script does (clientPortAddress/clientPort,
  else the client part of ``server.<myid>`` in the static then the dynamic config, else
  secureClientPort), sends the ``srvr`` four-letter word and prints its ``Mode:`` line.
- ``start-foreground`` parses the config (exit 2 on a bad one, like ZooKeeper's
  INVALID_CONFIG), exports ``--log-level``/``--log-format`` as ZKPY_LOG_LEVEL/ZKPY_LOG_FORMAT and
  runs ``zkpy.server.runtime.main.run``, which configures logging: these options (or the
  environment) over zoo.cfg's zkpy.logLevel/zkpy.logFormat over the defaults.

The config file is ``$ZOOCFGDIR/$ZOOCFG`` (``--config DIR`` overrides ZOOCFGDIR, which defaults
to ``<repo>/conf``; ZOOCFG defaults to ``zoo.cfg``); a CONFIG argument without a slash is taken
relative to ZOOCFGDIR. Every verb first writes ``Using config: <path>`` to stderr. The script's
JMX line is not printed: there is no JMX. ``stop`` and ``status`` read the config leniently
(Properties syntax only), as the script greps it, so they work even on a config zkpy rejects.

Two safety checks the script lacks: a pid is only signalled, or reported as running, when it
is alive, not a zombie, and (where /proc shows it) a zkpy process; pids below 1 are refused.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import click

from zkpy.server.config import ConfigError, load_config, read_config_text
from zkpy.server.logs import LOG_FORMATS, LOG_LEVELS, configure_logging
from zkpy.server.properties import PropertiesSyntaxError, read_properties
from zkpy.server.version import ZOOKEEPER_VERSION

REPO_ROOT = Path(__file__).resolve().parents[2]
PID_FILE_NAME = "zookeeper_server.pid"
START_CHECK_DELAY_S = 1.0
RESTART_PAUSE_S = 3.0
STOP_TIMEOUT_S = 30.0
FOUR_LETTER_WORD_TIMEOUT_S = 5.0
VERBS = "start|start-foreground|stop|version|restart|status|print-cmd"


# --- where things are -------------------------------------------------------------------------


def config_path(config_dir: Path, argument: str | None) -> Path:
    """zkServer.sh's ZOOCFG: a bare CONFIG name lives in ZOOCFGDIR, a path is taken as given."""
    if argument:
        return Path(argument) if "/" in argument else config_dir / argument
    return config_dir / (os.environ.get("ZOOCFG") or "zoo.cfg")


def pid_file_path(data_dir: str) -> Path:
    override = os.environ.get("ZOOPIDFILE")
    if override:
        return Path(override)
    return Path(data_dir or "/") / PID_FILE_NAME


def daemon_out_path() -> Path:
    log_dir = Path(os.environ.get("ZOO_LOG_DIR") or REPO_ROOT / "logs")
    user = os.environ.get("USER", "")
    host = os.environ.get("HOSTNAME") or socket.gethostname()
    return log_dir / f"zookeeper-{user}-server-{host}.out"


def foreground_command(path: Path) -> list[str]:
    return [sys.executable, "-m", "zkpy.server.cli", "start-foreground", str(path.absolute())]


def _raw_properties(path: Path) -> dict[str, str]:
    """The key/value pairs of a config file, unvalidated; {} (with a note) when unreadable."""
    try:
        return {entry.key: entry.value for entry in read_properties(read_config_text(path))}
    except ConfigError as error:
        click.echo(f"zkpy-server: {error}", err=True)
    except PropertiesSyntaxError as error:
        click.echo(f"zkpy-server: {path}:{error.line}: {error.reason}", err=True)
    return {}


# --- processes --------------------------------------------------------------------------------


def read_pid(pid_file: Path) -> int | None:
    try:
        text = pid_file.read_text().strip()
    except OSError:
        return None
    return int(text) if re.fullmatch(r"[0-9]+", text) and int(text) > 0 else None


def is_running_server(pid: int) -> bool:
    """Alive, not a zombie, and, where /proc tells, a zkpy process: a pid file can outlive its
    server, and its number can be reused by an unrelated process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc") / str(pid)
    try:
        state = (proc / "stat").read_text().rpartition(")")[2].split()[0]
        command_line = (proc / "cmdline").read_bytes()
    except (OSError, IndexError):
        return True
    # An empty command line means the process is still inside exec (or is a kernel thread).
    return state != "Z" and (not command_line or b"zkpy" in command_line)


def _wait_for_exit(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while is_running_server(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


# --- verbs ------------------------------------------------------------------------------------


def _datadir_missing(data_dir: Path) -> bool:
    """zkServer.sh refuses to start when ZOO_DATADIR_AUTOCREATE_DISABLE is set and
    dataDir/version-2 does not exist (see zkServer-initialize.sh)."""
    if os.environ.get("ZOO_DATADIR_AUTOCREATE_DISABLE") and not (data_dir / "version-2").is_dir():
        click.echo(f"ZooKeeper data directory is missing at {data_dir} fix the path or run "
                   "initialize")
        return True
    return False


def do_start(path: Path) -> int:
    try:
        config = load_config(path)
    except ConfigError as error:
        click.echo("Starting zookeeper ... FAILED TO START")
        click.echo(str(error), err=True)
        return 1
    if _datadir_missing(config.data_dir):
        return 1
    pid_file = pid_file_path(str(config.data_dir))
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    click.echo("Starting zookeeper ... ", nl=False)
    pid = read_pid(pid_file)
    if pid is not None and is_running_server(pid):
        click.echo(f"already running as process {pid}.")
        return 1
    out_path = daemon_out_path()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(out_path, "wb") as out:
            process = subprocess.Popen(
                foreground_command(path),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    except OSError as error:
        click.echo("SERVER DID NOT START")
        click.echo(f"zkpy-server: {error}", err=True)
        return 1
    try:
        pid_file.write_text(str(process.pid))
    except OSError as error:
        click.echo("FAILED TO WRITE PID")
        click.echo(f"zkpy-server: {error}", err=True)
        return 1
    time.sleep(START_CHECK_DELAY_S)
    if process.poll() is None:
        click.echo("STARTED")
        return 0
    click.echo("FAILED TO START")
    click.echo(f"zkpy-server: see {out_path}", err=True)
    return 1


def do_stop(path: Path) -> int:
    pid_file = pid_file_path(_raw_properties(path).get("dataDir", ""))
    click.echo("Stopping zookeeper ... ", nl=False)
    if not pid_file.is_file():
        click.echo(f"no zookeeper to stop (could not find file {pid_file})")
        return 0
    pid = read_pid(pid_file)
    if pid is None:
        click.echo(f"zkpy-server: {pid_file} holds no process id", err=True)
    elif not is_running_server(pid):
        click.echo(f"zkpy-server: no zkpy server runs as process {pid}", err=True)
    else:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError as error:
            click.echo(f"zkpy-server: kill {pid}: {error.strerror}", err=True)
    pid_file.unlink(missing_ok=True)
    if pid is not None and not _wait_for_exit(pid, STOP_TIMEOUT_S):
        click.echo(f"zkpy-server: process {pid} still runs {STOP_TIMEOUT_S:g} s after SIGTERM",
                   err=True)
    click.echo("STOPPED")
    return 0


def _server_client_part(properties: dict[str, str], myid: str) -> str | None:
    value = properties.get(f"server.{myid}", "")
    if ";" not in value:
        return None
    return value.rpartition(";")[2].strip() or None


def _client_address(path: Path) -> tuple[str, str, bool] | None:
    """(address, port, ssl) as zkServer.sh status works them out; None when there is no port."""
    properties = _raw_properties(path)
    address = properties.get("clientPortAddress") or "localhost"
    port = properties.get("clientPort", "")
    if not re.fullmatch(r"[0-9]+", port):
        port = ""
        myid_path = Path(properties.get("dataDir") or "/") / "myid"
        try:
            myid = myid_path.read_text().rstrip("\n")
        except (OSError, UnicodeDecodeError):
            myid = ""
        if not re.fullmatch(r"[0-9]+", myid):
            click.echo("myid could not be determined, will not able to locate clientPort in the "
                       "server configs.")
        else:
            part = _server_client_part(properties, myid)
            if part is None:
                click.echo("Client port not found in static config file. Looking in dynamic "
                           "config file.")
                dynamic = properties.get("dynamicConfigFile")
                part = _server_client_part(_raw_properties(Path(dynamic)), myid) if dynamic \
                    else None
            if part is None:
                click.echo("Client port not found in the server configs")
            else:
                bracketed = re.search(r"\[(.*)\]:[0-9]+", part)
                if bracketed:
                    address = bracketed.group(1)
                elif re.match(r".*:[0-9]+", part):
                    address = part.partition(":")[0]
                port = part.rpartition(":")[2]
    if port:
        return address, port, False
    click.echo("Client port not found. Looking for secureClientPort in the static config.")
    secure_port = properties.get("secureClientPort")
    if not secure_port:
        click.echo("Unable to find either secure or unsecure client port in any configs. "
                   "Terminating.")
        return None
    return properties.get("secureClientPortAddress") or "localhost", secure_port, True


def srvr_mode(address: str, port: str, use_ssl: bool) -> str | None:
    """The ``Mode:`` line(s) of the server's ``srvr`` reply, or None if it does not answer."""
    try:
        with socket.create_connection((address, int(port)), FOUR_LETTER_WORD_TIMEOUT_S) as raw:
            sock = ssl.create_default_context().wrap_socket(raw, server_hostname=address) \
                if use_ssl else raw
            with sock:
                sock.sendall(b"srvr")
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
    except (OSError, ValueError):
        return None
    text = b"".join(chunks).decode("utf-8", "replace")
    lines = [" ".join(line.split()) for line in text.splitlines() if "Mode" in line]
    return " ".join(lines) or None


def do_status(path: Path) -> int:
    found = _client_address(path)
    if found is None:
        return 1
    address, port, use_ssl = found
    click.echo(f"Client port found: {port}. Client address: {address}. "
               f"Client SSL: {str(use_ssl).lower()}.")
    mode = srvr_mode(address, port, use_ssl)
    if mode is not None:
        click.echo(mode)
        return 0
    if use_ssl:
        click.echo(" ")
        click.echo(f"Note: We used secureClientPort ({port}) to establish connection, but we "
                   "failed. zkpy-server verifies the server's certificate against the system's "
                   "CA store (Python's ssl default context).")
        click.echo(" ")
    click.echo("Error contacting service. It is probably not running.")
    return 1


# --- click wiring -----------------------------------------------------------------------------


class _Verbs(click.Group):
    """Like zkServer.sh, an unknown verb prints the usage line (to stderr) and exits 0."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and not args[0].startswith("-") and self.get_command(ctx, args[0]) is None:
            return args[0], _unknown_verb, args[1:]
        return super().resolve_command(ctx, args)


def _announce(ctx: click.Context, argument: str | None) -> Path:
    path = config_path(ctx.find_object(Path) or REPO_ROOT / "conf", argument)
    click.echo(f"Using config: {path}", err=True)
    return path


def _usage(ctx: click.Context) -> None:
    click.echo(f"Usage: {ctx.find_root().info_name} [--config <conf-dir>] {{{VERBS}}}", err=True)


@click.group(cls=_Verbs, invoke_without_command=True)
@click.option(
    "--config",
    "config_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory holding zoo.cfg (overrides $ZOOCFGDIR; default <repo>/conf).",
)
@click.pass_context
def cli(ctx: click.Context, config_dir: Path | None) -> None:
    """Start, stop and inspect a zkpy server, like Apache ZooKeeper's zkServer.sh."""
    ctx.obj = config_dir or Path(os.environ.get("ZOOCFGDIR") or REPO_ROOT / "conf")
    if ctx.invoked_subcommand is None:
        _announce(ctx, None)
        _usage(ctx)


@click.command(
    "unknown-verb",
    hidden=True,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@click.pass_context
def _unknown_verb(ctx: click.Context) -> None:
    _announce(ctx, None)
    _usage(ctx)


@cli.command()
@click.argument("config", required=False)
@click.pass_context
def start(ctx: click.Context, config: str | None) -> None:
    """Start the server in the background."""
    ctx.exit(do_start(_announce(ctx, config)))


@cli.command("start-foreground")
@click.argument("config", required=False)
@click.option("--log-level", envvar="ZKPY_LOG_LEVEL",
              type=click.Choice(LOG_LEVELS, case_sensitive=False),
              help="Log level (env ZKPY_LOG_LEVEL; else zoo.cfg's zkpy.logLevel; INFO).")
@click.option("--log-format", envvar="ZKPY_LOG_FORMAT",
              type=click.Choice(LOG_FORMATS, case_sensitive=False),
              help="Log format (env ZKPY_LOG_FORMAT; else zoo.cfg's zkpy.logFormat; console on "
                   "a terminal, JSON otherwise).")
@click.pass_context
def start_foreground(
    ctx: click.Context, config: str | None, log_level: str | None, log_format: str | None
) -> None:
    """Run the server in this process (what `start` runs, and a container's command)."""
    path = _announce(ctx, config)
    try:
        server_config = load_config(path)
    except ConfigError as error:
        click.echo(str(error), err=True)
        click.echo("Invalid config, exiting abnormally", err=True)
        ctx.exit(2)
    if _datadir_missing(server_config.data_dir):
        ctx.exit(1)
    if log_level:
        os.environ["ZKPY_LOG_LEVEL"] = log_level.upper()
    if log_format:
        os.environ["ZKPY_LOG_FORMAT"] = log_format.lower()
    from zkpy.server.runtime.main import run

    ctx.exit(run(server_config, path))


@cli.command()
@click.argument("config", required=False)
@click.pass_context
def stop(ctx: click.Context, config: str | None) -> None:
    """Stop the server that `start` started (SIGTERM, then wait for it to exit)."""
    ctx.exit(do_stop(_announce(ctx, config)))


@cli.command()
@click.argument("config", required=False)
@click.pass_context
def restart(ctx: click.Context, config: str | None) -> None:
    """stop, pause, start."""
    path = _announce(ctx, config)
    do_stop(path)
    time.sleep(RESTART_PAUSE_S)
    ctx.exit(do_start(path))


@cli.command()
@click.argument("config", required=False)
@click.pass_context
def status(ctx: click.Context, config: str | None) -> None:
    """Print the server's mode (standalone, leader, follower, observer, read-only)."""
    ctx.exit(do_status(_announce(ctx, config)))


@cli.command("print-cmd")
@click.argument("config", required=False)
@click.pass_context
def print_cmd(ctx: click.Context, config: str | None) -> None:
    """Print the command line `start` runs."""
    python, *options, config_file = foreground_command(_announce(ctx, config))
    click.echo(f'"{python}" {" ".join(options)} "{config_file}" > "{daemon_out_path()}" 2>&1 '
               "< /dev/null")


@cli.command()
@click.option("-n", "count", type=int, default=3, show_default=True,
              help="How many of the newest snapshots to keep (at least 3).")
@click.argument("config", required=False)
@click.pass_context
def purge(ctx: click.Context, count: int, config: str | None) -> None:
    """Delete old snapshots and logs, as zkCleanup.sh -n COUNT does (PurgeTxnLog)."""
    from zkpy.persistence.names import VERSION_DIR
    from zkpy.persistence.purge import purge as purge_files

    path = _announce(ctx, config)
    if count < 3:
        click.echo("Please specify valid snapshot purge count: count must be at least 3", err=True)
        ctx.exit(2)
    try:
        server_config = load_config(path)
    except ConfigError as error:
        click.echo(str(error), err=True)
        ctx.exit(2)
    # zkCleanup.sh prints one line per file; the purge module's own info events would repeat it.
    configure_logging("WARNING")
    deleted = purge_files(Path(server_config.data_log_dir) / VERSION_DIR,
                          Path(server_config.data_dir) / VERSION_DIR, count)
    for file in deleted:
        click.echo(f"Removing file: {file}")


@cli.command()
@click.pass_context
def version(ctx: click.Context) -> None:
    """Print the version, as VersionInfoMain does."""
    _announce(ctx, None)
    number, _, build_date = ZOOKEEPER_VERSION.partition(", built on ")
    click.echo(f"Apache ZooKeeper, version {number} {build_date}".rstrip())


def main() -> None:
    cli(prog_name="zkpy-server")


if __name__ == "__main__":
    main()
