"""ZooKeeper's data directory formats: txn logs and snapshots, readable and writable by both.

Pure formats: `txnlog` (log entries), `snapshot` (tree <-> stream), `snapstream` (compression),
`names` (file naming). Disk: `txnlog_files.TxnLogFiles`, `snapshot_files.SnapshotFiles`, `fsync`,
`purge.purge`, `restore.restore`.
"""
