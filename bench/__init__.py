"""Side-by-side benchmarks of zkpy against Apache ZooKeeper; see bench/README.md."""
