"""Every acknowledged write survives kill -9; sessions and snapshots survive restarts."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from tests.support.rawclient import RawClient
from tests.support.servers import ZkpyServer
from zkpy.datatree.acl import OPEN_ACL_UNSAFE
from zkpy.jute import records as r
from zkpy.jute.constants import CreateMode, OpCode

pytestmark = pytest.mark.interop


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    server = ZkpyServer(tmp_path).start()
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(client: KazooClient, prefix: str) -> None:
        n = 0
        while not stop.is_set():
            batch = [(f"/{prefix}-{n + i}", client.create_async(f"/{prefix}-{n + i}", b"x" * 100))
                     for i in range(50)]
            n += 50
            for path, result in batch:
                try:
                    result.get(timeout=10)
                except Exception:
                    continue
                with lock:
                    acknowledged.append(path)

    clients = [KazooClient(server.address, timeout=10) for _ in range(3)]
    threads = []
    for i, client in enumerate(clients):
        client.start(timeout=10)
        threads.append(threading.Thread(target=writer, args=(client, f"w{i}"), daemon=True))
    for thread in threads:
        thread.start()
    time.sleep(3)
    server.kill()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    for client in clients:
        client.stop()
        client.close()
    with lock:
        seen = list(acknowledged)
    assert len(seen) > 500, "the load was too light to mean anything"
    restarted = ZkpyServer(tmp_path, port=server.port).start()
    try:
        reader = KazooClient(restarted.address, timeout=10)
        reader.start(timeout=10)
        present = set(reader.get_children("/"))
        reader.stop()
        reader.close()
    finally:
        restarted.stop()
    lost = [path for path in seen if path[1:] not in present]
    assert lost == [], f"{len(lost)} acknowledged writes lost, e.g. {lost[:5]}"


def test_session_and_ephemerals_survive_a_restart(tmp_path: Path) -> None:
    server = ZkpyServer(tmp_path).start()
    client = RawClient(server.port, timeout_ms=20000)
    header, _ = client.call(OpCode.create, r.CreateRequest("/mine", b"", OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL))
    assert header.err == 0
    session_id, password = client.session
    client.drop()
    server.stop()
    restarted = ZkpyServer(tmp_path, port=server.port).start()
    try:
        again = RawClient(restarted.port, session_id=session_id, password=password)
        assert again.connect_response.sessionId == session_id
        assert again.connect_response.timeOut == 20000
        header, stat = again.call(OpCode.exists, r.ExistsRequest("/mine", False), r.ExistsResponse)
        assert header.err == 0 and stat.stat.ephemeralOwner == session_id
        header, _ = again.call(OpCode.closeSession)
        assert header.err == 0
    finally:
        restarted.stop()


def test_snapshots_roll_the_log_and_restart_from_snapshot_plus_log(tmp_path: Path) -> None:
    server = ZkpyServer(tmp_path, extra_config={"snapCount": "100"}).start()
    client = KazooClient(server.address, timeout=10)
    client.start(timeout=10)
    for i in range(400):
        client.create(f"/s{i}", str(i).encode())
    client.set("/s7", b"changed")
    client.delete("/s8")
    client.stop()
    client.close()
    time.sleep(0.5)
    server.kill()
    version2 = tmp_path / "data" / "version-2"
    snapshots = [name for name in os.listdir(version2) if name.startswith("snapshot.")]
    logs = [name for name in os.listdir(version2) if name.startswith("log.")]
    assert len(snapshots) >= 3 and len(logs) >= 3, (snapshots, logs)
    restarted = ZkpyServer(tmp_path, port=server.port).start()
    try:
        reader = KazooClient(restarted.address, timeout=10)
        reader.start(timeout=10)
        assert len(reader.get_children("/")) == 400
        assert reader.get("/s7")[0] == b"changed"
        assert reader.get("/s399")[0] == b"399"
        reader.stop()
        reader.close()
    finally:
        restarted.stop()


def test_torn_log_tail_is_cut_off_cleanly(tmp_path: Path) -> None:
    server = ZkpyServer(tmp_path).start()
    client = KazooClient(server.address, timeout=10)
    client.start(timeout=10)
    for i in range(20):
        client.create(f"/t{i}")
    client.stop()
    client.close()
    server.kill()
    version2 = tmp_path / "data" / "version-2"
    newest_log = sorted(p for p in version2.iterdir() if p.name.startswith("log."))[-1]
    with open(newest_log, "r+b") as f:
        data = f.read()
        end = data.rstrip(b"\0")
        # a half-written last entry: its checksum and length, part of its body, no 'B'
        f.seek(len(end))
        f.write(b"\x00\x00\x00\x00\x12\x34\x56\x78\x00\x00\x00\x40" + b"\x01" * 10)
    restarted = ZkpyServer(tmp_path, port=server.port).start()
    try:
        reader = KazooClient(restarted.address, timeout=10)
        reader.start(timeout=10)
        assert len([c for c in reader.get_children("/") if c.startswith("t")]) == 20
        reader.create("/after")
        reader.stop()
        reader.close()
    finally:
        restarted.stop()


def test_unwritable_data_dir_stops_the_server_with_a_clear_message(tmp_path: Path) -> None:
    # A file where a directory should be: unusable even for root.
    (tmp_path / "file-not-dir").write_text("not a directory")
    server = ZkpyServer(tmp_path, extra_config={"dataDir": str(tmp_path / "file-not-dir" / "data")})
    with pytest.raises(RuntimeError) as error:
        server.start(timeout_s=20)
    assert "cannot use the data directory" in str(error.value)


def test_purge_verb_keeps_the_newest_snapshots_and_the_logs_they_need(tmp_path: Path) -> None:
    import subprocess

    from tests.support.servers import ZKPY_SERVER

    server = ZkpyServer(tmp_path, extra_config={"snapCount": "40"}).start()
    client = KazooClient(server.address, timeout=10)
    client.start(timeout=10)
    for i in range(400):
        client.create(f"/p{i}")
    client.stop()
    client.close()
    time.sleep(0.5)
    server.stop()
    version2 = tmp_path / "data" / "version-2"
    before = sorted(p.name for p in version2.iterdir() if p.name.startswith("snapshot."))
    assert len(before) > 3
    done = subprocess.run([str(ZKPY_SERVER), "purge", "-n", "3", str(server.config_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    after = sorted(p.name for p in version2.iterdir() if p.name.startswith("snapshot."))
    assert len(after) == 3 and "Removing file:" in done.stdout
    # One line per deleted file, as zkCleanup.sh prints, and nothing else.
    assert all(line.startswith("Removing file: ") for line in done.stdout.splitlines()), done.stdout
    restarted = ZkpyServer(tmp_path, port=server.port).start()
    try:
        reader = KazooClient(restarted.address, timeout=10)
        reader.start(timeout=10)
        assert len(reader.get_children("/")) == 401
        reader.stop()
        reader.close()
    finally:
        restarted.stop()
