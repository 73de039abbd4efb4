"""Log level and format: CLI option or environment over zoo.cfg's zkpy.* keys over the defaults.

The unit tests pin the precedence (zkpy.server.logs.log_settings); the process tests start
`zkpy-server start-foreground` on a zoo.cfg with the keys and read what it logged, and check
that Apache ZooKeeper starts on the same zoo.cfg (it keeps unknown keys as system properties).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from zkpy.server.cli import cli
from zkpy.server.logs import FORMAT_ENV, LEVEL_ENV, log_settings

from tests.support.servers import ApacheZkServer, ZkpyServer, apache_zookeeper_available


@pytest.mark.parametrize(("config", "environ", "tty", "expected"), [
    ((None, None), {}, False, ("INFO", "json")),
    ((None, None), {}, True, ("INFO", "console")),
    (("DEBUG", "console"), {}, False, ("DEBUG", "console")),
    (("DEBUG", "json"), {}, True, ("DEBUG", "json")),
    (("DEBUG", "json"), {LEVEL_ENV: "error", FORMAT_ENV: "CONSOLE"}, False, ("ERROR", "console")),
    (("DEBUG", None), {FORMAT_ENV: "console"}, False, ("DEBUG", "console")),
    ((None, "console"), {LEVEL_ENV: "warning"}, False, ("WARNING", "console")),
    (("DEBUG", "json"), {LEVEL_ENV: "", FORMAT_ENV: ""}, True, ("DEBUG", "json")),
])
def test_precedence(config: tuple[str | None, str | None], environ: dict[str, str], tty: bool,
                    expected: tuple[str, str]) -> None:
    assert log_settings(*config, environ=environ, tty=tty) == expected


def test_a_bad_key_stops_start_foreground_naming_key_and_line(tmp_path: Path) -> None:
    config = tmp_path / "zoo.cfg"
    config.write_text(f"tickTime=2000\ndataDir={tmp_path / 'data'}\nclientPort=2181\n"
                      "zkpy.logFormat=xml\n")
    result = CliRunner().invoke(cli, ["start-foreground", str(config)],
                                env={LEVEL_ENV: None, FORMAT_ENV: None})
    assert result.exit_code == 2
    assert f"{config}:4: zkpy.logFormat: 'xml' is not one of console, json" in result.stderr


# ---------------------------------------------------------------- real processes


@dataclass
class PlainEnvZkpyServer(ZkpyServer):
    """A zkpy server whose environment says nothing about logging unless told to."""

    log_env: dict[str, str] | None = None

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in (LEVEL_ENV, FORMAT_ENV)}
        env.update(self.log_env or {})
        return env


def logged_lines(tmp_path: Path, extra: dict[str, str], log_env: dict[str, str]) -> list[str]:
    server = PlainEnvZkpyServer(tmp_path / "zkpy", extra, log_env=log_env)
    with server:
        pass
    lines = server.log_path.read_text().splitlines()
    # The CLI's own zkServer.sh line comes first; then the log.
    assert lines[0] == f"Using config: {server.config_path}"
    return [line for line in lines[1:] if line.strip()]


@pytest.mark.interop
def test_zoo_cfg_chooses_json_and_warning(tmp_path: Path) -> None:
    lines = logged_lines(tmp_path, {"zkpy.logFormat": "json", "zkpy.logLevel": "WARNING"}, {})
    events = [json.loads(line) for line in lines]
    assert all(event["level"] in ("warning", "error", "critical") for event in events), events


@pytest.mark.interop
def test_zoo_cfg_chooses_info_json(tmp_path: Path) -> None:
    lines = logged_lines(tmp_path, {"zkpy.logFormat": "json", "zkpy.logLevel": "info"}, {})
    events = [json.loads(line) for line in lines]
    assert {"starting", "serving"} <= {event["event"] for event in events}


@pytest.mark.interop
def test_environment_overrides_zoo_cfg(tmp_path: Path) -> None:
    lines = logged_lines(tmp_path, {"zkpy.logFormat": "json", "zkpy.logLevel": "WARNING"},
                         {FORMAT_ENV: "console", LEVEL_ENV: "INFO"})
    assert any("starting" in line for line in lines)
    assert not any(line.startswith("{") for line in lines), lines


@pytest.mark.interop
@pytest.mark.skipif(not apache_zookeeper_available() or shutil.which("java") is None,
                    reason="needs Java and Debian's zookeeper.jar")
def test_apache_zookeeper_accepts_the_keys(tmp_path: Path) -> None:
    server = ApacheZkServer(tmp_path / "apache",
                            {"zkpy.logFormat": "json", "zkpy.logLevel": "WARNING"})
    with server:
        pass
