"""Scripted kazoo sessions run against Apache ZooKeeper and zkpy must print the same lines.

Times are left out of what is compared; zxids, versions, cversions, data and errors are not.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from tests.support.servers import ApacheZkServer, ZkpyServer, apache_zookeeper_available

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not apache_zookeeper_available(), reason="needs Debian's Apache ZooKeeper"),
]


def stat_line(zk: KazooClient, path: str) -> str:
    s = zk.exists(path)
    if s is None:
        return f"{path} missing"
    return (f"{path} czxid={s.czxid} mzxid={s.mzxid} pzxid={s.pzxid} version={s.version} "
            f"cversion={s.cversion} aversion={s.aversion} eph={int(s.ephemeralOwner != 0)} "
            f"len={s.dataLength} children={s.numChildren}")


def cversion_scenario(zk: KazooClient) -> list[str]:
    out = [stat_line(zk, p) for p in ("/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config")]
    zk.create("/a")
    zk.create("/b")
    tx = zk.transaction()
    tx.create("/c")
    tx.check("/a", 5)
    out.append(repr([type(r).__name__ for r in tx.commit()]))
    tx = zk.transaction()
    tx.create("/c")
    tx.check("/a", 0)
    out.append(repr(tx.commit()[0]))
    zk.delete("/c")
    zk.create("/d", ephemeral=True)
    out.append(zk.create("/a/s-", sequence=True))
    zk.delete(out[-1])
    out.append(zk.create("/a/s-", sequence=True))
    out.extend(stat_line(zk, p) for p in ("/", "/a", "/d"))
    return out


def quota_scenario(zk: KazooClient) -> list[str]:
    stats = "/zookeeper/quota/qa/zookeeper_stats"
    zk.create("/qa/b", b"12345", makepath=True)
    zk.create("/zookeeper/quota/qa/zookeeper_limits", b"count=10,bytes=-1", makepath=True)
    zk.create(stats, b"count=-1,bytes=-1")
    out = [zk.get(stats)[0].decode()]
    zk.create("/qa/c", b"xyz")
    out.append(zk.get(stats)[0].decode())
    zk.set("/qa/b", b"1")
    out.append(zk.get(stats)[0].decode())
    zk.delete("/qa/c")
    out.append(zk.get(stats)[0].decode())
    zk.set(stats, b"count=2,bytes=1,countHardLimit=5")
    zk.create("/qa/d")
    out.append(zk.get(stats)[0].decode())
    out.append(stat_line(zk, stats))
    return out


def data_and_acl_scenario(zk: KazooClient) -> list[str]:
    zk.create("/n", None)
    out = [repr(zk.get("/n")[0]), stat_line(zk, "/n")]
    zk.set("/n", b"")
    out.append(repr(zk.get("/n")[0]))
    zk.add_auth("digest", "bob:pw")
    from kazoo.security import make_acl, make_digest_acl

    zk.create("/s", b"x", acl=[make_digest_acl("bob", "pw", all=True), make_acl("ip", "127.0.0.0/8", read=True)])
    acl, stat = zk.get_acls("/s")
    out.append(repr(sorted((a.perms, a.id.scheme, a.id.id) for a in acl)))
    zk.set_acls("/s", [make_acl("world", "anyone", all=True)])
    out.append(stat_line(zk, "/s"))
    out.append(repr(zk.get_children("/zookeeper")))
    out.append(repr(zk.get("/zookeeper/config")[0]))
    return out


def children_order_scenario(zk: KazooClient) -> list[str]:
    """Children come back in Java HashSet order, which zkCli's `ls` prints as is."""
    zk.create("/o")
    out = []
    for i in range(30):
        zk.create(f"/o/node-{i}-\u00e9")
        if i in (5, 6, 20):
            out.append(repr(zk.get_children("/o")))
    for i in range(0, 30, 3):
        zk.delete(f"/o/node-{i}-\u00e9")
    zk.create("/o/node-0-\u00e9")
    zk.create("/o/z", sequence=True)
    out.append(repr(zk.get_children("/o")))
    out.append(repr(zk.get_children("/")))
    return out


SCENARIOS: dict[str, Callable[[KazooClient], list[str]]] = {
    "children_order": children_order_scenario,
    "cversion": cversion_scenario,
    "quota": quota_scenario,
    "data_and_acl": data_and_acl_scenario,
}


def run(server_cls: type, workdir: Path, scenario: Callable[[KazooClient], list[str]]) -> list[str]:
    with server_cls(workdir) as server:
        zk = KazooClient(server.address, timeout=10)
        zk.start(timeout=15)
        try:
            return scenario(zk)
        finally:
            zk.stop()
            zk.close()


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_lines_as_apache(name: str, tmp_path: Path) -> None:
    expected = run(ApacheZkServer, tmp_path / "apache", SCENARIOS[name])
    actual = run(ZkpyServer, tmp_path / "zkpy", SCENARIOS[name])
    assert actual == expected
