"""Helpers for snapshot tests: arbitrary DataTrees for Hypothesis and a deep tree comparison."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from zkpy.datatree.tree import DataNode, DataTree, ephemeral_kind
from zkpy.jute import records as r
from zkpy.jute.constants import CONTAINER_EPHEMERAL_OWNER

LONGS = st.integers(min_value=-(2**63), max_value=2**63 - 1)
INTS = st.integers(min_value=-(2**31), max_value=2**31 - 1)
# Characters above U+FFFF do not survive Jute strings (see zkpy.persistence.snapshot).
NAMES = st.text(st.characters(max_codepoint=0xFFFF, blacklist_categories=("Cs",), blacklist_characters="/\x00"),
                min_size=1, max_size=12)
ACLS = st.lists(
    st.builds(lambda perms, scheme, ident: r.ACL(perms, r.Id(scheme, ident)),
              st.integers(0, 31), st.sampled_from(["world", "digest", "ip", "sasl", "x509"]),
              st.text(st.characters(max_codepoint=0xFFFF, blacklist_categories=("Cs",)), max_size=20)),
    max_size=3,
)
OWNERS = st.one_of(st.just(0), st.just(CONTAINER_EPHEMERAL_OWNER),
                   st.integers(1, 2**40).map(lambda ttl: (0xFF << 56 | ttl) - (1 << 64)),
                   st.integers(1, 2**56))


@st.composite
def trees(draw: Any, max_nodes: int = 40) -> DataTree:
    tree = DataTree()
    parents = ["/"]
    for _ in range(draw(st.integers(0, max_nodes))):
        parent = draw(st.sampled_from(parents))
        path = parent.rstrip("/") + "/" + draw(NAMES)
        if path in tree.nodes:
            continue
        owner = draw(OWNERS)
        node = DataNode(draw(st.one_of(st.none(), st.binary(max_size=64))), tree.intern_acl(draw(ACLS)),
                        draw(LONGS), draw(LONGS), owner)
        node.mzxid, node.mtime, node.pzxid = draw(LONGS), draw(LONGS), draw(LONGS)
        node.version, node.cversion, node.aversion = draw(INTS), draw(INTS), draw(INTS)
        tree.nodes[parent].add_child(path.rsplit("/", 1)[1])
        tree.nodes[path] = node
        kind = ephemeral_kind(owner)
        if kind == "normal":
            tree.ephemerals.setdefault(owner, set()).add(path)
        elif kind == "container":
            tree.containers.add(path)
        elif kind == "ttl":
            tree.ttls.add(path)
        if owner == 0:
            parents.append(path)
    tree.sessions.update(draw(st.dictionaries(LONGS, INTS, max_size=5)))
    tree.last_processed_zxid = draw(st.integers(0, 2**63 - 1))
    return tree


def node_fields(node: Any) -> tuple[Any, ...]:
    return (node.data, [(a.perms, a.id.scheme, a.id.id) for a in node.acl], node.czxid, node.mzxid,
            node.ctime, node.mtime, node.version, node.cversion, node.aversion, node.ephemeral_owner,
            node.pzxid, sorted(node.children))


def assert_same_tree(expected: DataTree, actual: DataTree) -> None:
    assert sorted(actual.nodes) == sorted(expected.nodes)
    assert actual.nodes[""] is actual.nodes["/"]
    for path, node in expected.nodes.items():
        assert node_fields(actual.nodes[path]) == node_fields(node), path
    assert actual.sessions == expected.sessions
    # A session whose ephemerals were all deleted keeps an empty entry until it closes; a
    # snapshot, like ZooKeeper's, only records nodes, so it comes back without one.
    assert actual.ephemerals == {s: paths for s, paths in expected.ephemerals.items() if paths}
    assert actual.containers == expected.containers
    assert actual.ttls == expected.ttls
