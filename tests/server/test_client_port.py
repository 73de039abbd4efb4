"""ClientConnection on uvloop: what happens to replies when the transport closes under them."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
import uvloop

from zkpy.server.runtime.client_port import ClientConnection

pytestmark = pytest.mark.timeout(30)
LOOPBACK = "127.0.0.1"


def test_a_reply_queued_as_the_transport_closes_is_dropped_quietly() -> None:
    """A reply sent between the transport closing and connection_lost is flushed after
    connection_lost, when uvloop raises RuntimeError on any write: it must be dropped, not escape
    to the event loop's exception handler."""

    async def main() -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        escaped: list[dict[str, Any]] = []
        loop.set_exception_handler(lambda _loop, context: escaped.append(context))
        made: asyncio.Future[ClientConnection] = loop.create_future()

        def factory() -> ClientConnection:
            conn = ClientConnection(None, None, 1 << 20, 0, {})  # type: ignore[arg-type]
            if not made.done():
                made.set_result(conn)
            return conn

        server = await loop.create_server(factory, LOOPBACK, 0)
        client = socket.create_connection(server.sockets[0].getsockname()[:2])
        try:
            conn = await asyncio.wait_for(made, 5)
            assert conn.transport is not None
            conn.transport.abort()
            conn.send(b"a reply to a request read before the close")
            await asyncio.sleep(0.1)
        finally:
            client.close()
            server.close()
        return escaped

    assert uvloop.run(main()) == []
