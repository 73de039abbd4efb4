"""zkpy: a ZooKeeper server in Python, wire-compatible with Apache ZooKeeper 3.8/3.9."""

from zkpy import compiled

# Before any hot-path module is imported: loads their compiled builds where current (compiled.py).
compiled.install()
