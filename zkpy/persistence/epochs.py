"""The currentEpoch and acceptedEpoch files of a quorum member (QuorumPeer.loadDataBase).

Theory of operation: both live in the snapshot directory (dataDir/version-2) as a decimal long
without a newline, written atomically (a `.tmp` file, fsynced, renamed over the old one, as
AtomicFileWritingIdiom does). A missing file starts as the epoch of the last zxid (an upgrade
from a standalone data directory). A current epoch older than the last zxid's epoch is taken from
`currentEpoch.tmp` when a crash interrupted its rename, and is an error otherwise; so is an
accepted epoch below the current one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from zkpy.zab.zxid import epoch_of

CURRENT_EPOCH_FILE = "currentEpoch"
ACCEPTED_EPOCH_FILE = "acceptedEpoch"
TMP_SUFFIX = ".tmp"


class EpochFileError(Exception):
    """Epoch files that contradict each other or the log."""


@dataclass(slots=True)
class EpochFiles:
    snap_dir: Path
    current_epoch: int = 0
    accepted_epoch: int = 0

    def load(self, last_zxid: int) -> None:
        zxid_epoch = epoch_of(last_zxid)
        current = self._read(CURRENT_EPOCH_FILE)
        if current is None:
            current = zxid_epoch
            self._write(CURRENT_EPOCH_FILE, current)
        if zxid_epoch > current:
            interrupted = self._read(CURRENT_EPOCH_FILE + TMP_SUFFIX)
            if interrupted is None:
                raise EpochFileError(f"the current epoch, {current:x}, is older than the last zxid, {last_zxid:x}")
            current = interrupted
            self._write(CURRENT_EPOCH_FILE, current)
        accepted = self._read(ACCEPTED_EPOCH_FILE)
        if accepted is None:
            accepted = zxid_epoch
            self._write(ACCEPTED_EPOCH_FILE, accepted)
        if accepted < current:
            raise EpochFileError(f"the accepted epoch, {accepted:x} is less than the current epoch, {current:x}")
        self.current_epoch = current
        self.accepted_epoch = accepted

    def set_current(self, epoch: int) -> None:
        self._write(CURRENT_EPOCH_FILE, epoch)
        self.current_epoch = epoch

    def set_accepted(self, epoch: int) -> None:
        self._write(ACCEPTED_EPOCH_FILE, epoch)
        self.accepted_epoch = epoch

    def _read(self, name: str) -> int | None:
        try:
            text = (self.snap_dir / name).read_text("ascii")
        except FileNotFoundError:
            return None
        line = text.splitlines()[0] if text else ""
        try:
            return int(line.strip())
        except ValueError:
            raise EpochFileError(f"{self.snap_dir / name}: not a number: {line!r}") from None

    def _write(self, name: str, value: int) -> None:
        self.snap_dir.mkdir(parents=True, exist_ok=True)
        target = self.snap_dir / name
        tmp = self.snap_dir / (name + TMP_SUFFIX)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, str(value).encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        dir_fd = os.open(self.snap_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
