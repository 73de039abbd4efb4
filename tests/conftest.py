"""Session set-up shared by every test directory."""

from __future__ import annotations

import subprocess
import sys

import pytest


def pytest_sessionstart(session: pytest.Session) -> None:
    """Brings the compiled hot-path modules up to date before anything imports them or starts a
    server (bin/test has done it already; this covers a bare `pytest` after an edit, whose first
    server start would otherwise spend its start-up timeout compiling)."""
    subprocess.run([sys.executable, "-m", "zkpy.build_compiled"], cwd=session.config.rootpath,
                   check=False)
