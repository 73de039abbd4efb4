"""Wire constants of the client protocol: opcodes, error codes, watch enums, create modes, perms.

Values are ZooKeeper's (ZooDefs.OpCode, KeeperException.Code, Watcher.Event, CreateMode,
ZooDefs.Perms); zookeeper-facts.md lists them with their sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


class NamedInts:
    """A namespace of named int constants, with the names looked up by value for logs.

    Deliberately not an IntEnum: on Python 3.11 reading a member through EnumType costs about
    130 ns against 30 ns for a plain class attribute, and a write reads dozens of these on its
    way through decode, prep, apply and reply (a quarter of standalone write throughput)."""

    _names: ClassVar[dict[int, str]] = {}

    def __init_subclass__(cls) -> None:
        cls._names = {value: name for name, value in vars(cls).items()
                      if isinstance(value, int) and not name.startswith("_")}

    @classmethod
    def name_of(cls, value: int) -> str:
        """The constant's name; ValueError for a value that has none."""
        try:
            return cls._names[value]
        except KeyError:
            raise ValueError(f"{value} is not a valid {cls.__name__}") from None

    @classmethod
    def values(cls) -> frozenset[int]:
        return frozenset(cls._names)


class OpCode(NamedInts):
    notification = 0
    create = 1
    delete = 2
    exists = 3
    getData = 4
    setData = 5
    getACL = 6
    setACL = 7
    getChildren = 8
    sync = 9
    ping = 11
    getChildren2 = 12
    check = 13
    multi = 14
    create2 = 15
    reconfig = 16
    checkWatches = 17
    removeWatches = 18
    createContainer = 19
    deleteContainer = 20
    createTTL = 21
    multiRead = 22
    auth = 100
    setWatches = 101
    sasl = 102
    getEphemerals = 103
    getAllChildrenNumber = 104
    setWatches2 = 105
    addWatch = 106
    whoAmI = 107
    createSession = -10
    closeSession = -11
    error = -1


class Err(NamedInts):
    OK = 0
    SYSTEMERROR = -1
    RUNTIMEINCONSISTENCY = -2
    DATAINCONSISTENCY = -3
    CONNECTIONLOSS = -4
    MARSHALLINGERROR = -5
    UNIMPLEMENTED = -6
    OPERATIONTIMEOUT = -7
    BADARGUMENTS = -8
    UNKNOWNSESSION = -12
    NEWCONFIGNOQUORUM = -13
    RECONFIGINPROGRESS = -14
    APIERROR = -100
    NONODE = -101
    NOAUTH = -102
    BADVERSION = -103
    NOCHILDRENFOREPHEMERALS = -108
    NODEEXISTS = -110
    NOTEMPTY = -111
    SESSIONEXPIRED = -112
    INVALIDCALLBACK = -113
    INVALIDACL = -114
    AUTHFAILED = -115
    SESSIONMOVED = -118
    NOTREADONLY = -119
    EPHEMERALONLOCALSESSION = -120
    NOWATCHER = -121
    REQUESTTIMEOUT = -122
    RECONFIGDISABLED = -123
    SESSIONCLOSEDREQUIRESASLAUTH = -124
    QUOTAEXCEEDED = -125
    THROTTLEDOP = -127


class EventType(NamedInts):
    None_ = -1
    NodeCreated = 1
    NodeDeleted = 2
    NodeDataChanged = 3
    NodeChildrenChanged = 4
    DataWatchRemoved = 5
    ChildWatchRemoved = 6
    PersistentWatchRemoved = 7


class KeeperState(NamedInts):
    Disconnected = 0
    SyncConnected = 3
    AuthFailed = 4
    ConnectedReadOnly = 5
    SaslAuthenticated = 6
    Expired = -112
    Closed = 7


class WatcherType(NamedInts):
    Children = 1
    Data = 2
    Any = 3
    Persistent = 4
    PersistentRecursive = 5


class AddWatchMode(NamedInts):
    PERSISTENT = 0
    PERSISTENT_RECURSIVE = 1


class CreateMode(NamedInts):
    PERSISTENT = 0
    EPHEMERAL = 1
    PERSISTENT_SEQUENTIAL = 2
    EPHEMERAL_SEQUENTIAL = 3
    CONTAINER = 4
    PERSISTENT_WITH_TTL = 5
    PERSISTENT_SEQUENTIAL_WITH_TTL = 6


@dataclass(frozen=True, slots=True)
class CreateModeFlags:
    """What a CreateMode value means (CreateMode.isEphemeral, isSequential, isContainer, isTTL)."""

    ephemeral: bool
    sequential: bool
    container: bool
    ttl: bool


CREATE_MODE_FLAGS: dict[int, CreateModeFlags] = {
    CreateMode.PERSISTENT: CreateModeFlags(False, False, False, False),
    CreateMode.EPHEMERAL: CreateModeFlags(True, False, False, False),
    CreateMode.PERSISTENT_SEQUENTIAL: CreateModeFlags(False, True, False, False),
    CreateMode.EPHEMERAL_SEQUENTIAL: CreateModeFlags(True, True, False, False),
    CreateMode.CONTAINER: CreateModeFlags(False, False, True, False),
    CreateMode.PERSISTENT_WITH_TTL: CreateModeFlags(False, False, False, True),
    CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL: CreateModeFlags(False, True, False, True),
}
"""The flags of each CreateMode; a value missing here is not a CreateMode."""


class Perms(NamedInts):
    READ = 1
    WRITE = 2
    CREATE = 4
    DELETE = 8
    ADMIN = 16
    ALL = 31


class Xid(NamedInts):
    """Special xids (ClientCnxn)."""

    NOTIFICATION = -1
    PING = -2
    AUTH = -4
    SET_WATCHES = -8


CONTAINER_EPHEMERAL_OWNER = -0x8000000000000000
TTL_EPHEMERAL_OWNER_MARK = 0xFF
MAX_TTL_MS = (1 << 40) - 1
