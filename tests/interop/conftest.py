from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import ZkpyServer


@pytest.fixture(scope="module")
def zkpy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZkpyServer]:
    server = ZkpyServer(Path(tmp_path_factory.mktemp("zkpy")))
    server.start()
    try:
        yield server
    finally:
        server.stop()
