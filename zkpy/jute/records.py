"""Every record of zookeeper.jute that zkpy speaks, declared once.

The declarations follow zookeeper-jute/src/main/resources/zookeeper.jute module by module
(data, proto, quorum, persistence, txn). Field names keep ZooKeeper's spelling so that the jute
file can be checked against this one by eye. ConnectRequest/ConnectResponse omit the trailing
`readOnly` boolean: whether it is present differs per client, so the handshake code reads and
writes it itself (see zkpy.server.handshake).
"""

from __future__ import annotations

from zkpy.jute.codec import BOOL, BUFFER, INT, LONG, USTRING, record, vector

# module org.apache.zookeeper.data
Id = record("Id", [("scheme", USTRING), ("id", USTRING)])
ACL = record("ACL", [("perms", INT), ("id", Id)])
Stat = record(
    "Stat",
    [
        ("czxid", LONG),
        ("mzxid", LONG),
        ("ctime", LONG),
        ("mtime", LONG),
        ("version", INT),
        ("cversion", INT),
        ("aversion", INT),
        ("ephemeralOwner", LONG),
        ("dataLength", INT),
        ("numChildren", INT),
        ("pzxid", LONG),
    ],
)
StatPersisted = record(
    "StatPersisted",
    [
        ("czxid", LONG),
        ("mzxid", LONG),
        ("ctime", LONG),
        ("mtime", LONG),
        ("version", INT),
        ("cversion", INT),
        ("aversion", INT),
        ("ephemeralOwner", LONG),
        ("pzxid", LONG),
    ],
)
ClientInfo = record("ClientInfo", [("authScheme", USTRING), ("user", USTRING)])

# module org.apache.zookeeper.proto
ConnectRequest = record(
    "ConnectRequest",
    [
        ("protocolVersion", INT),
        ("lastZxidSeen", LONG),
        ("timeOut", INT),
        ("sessionId", LONG),
        ("passwd", BUFFER),
    ],
)
ConnectResponse = record(
    "ConnectResponse",
    [("protocolVersion", INT), ("timeOut", INT), ("sessionId", LONG), ("passwd", BUFFER)],
)
SetWatches = record(
    "SetWatches",
    [
        ("relativeZxid", LONG),
        ("dataWatches", vector(USTRING)),
        ("existWatches", vector(USTRING)),
        ("childWatches", vector(USTRING)),
    ],
)
SetWatches2 = record(
    "SetWatches2",
    [
        ("relativeZxid", LONG),
        ("dataWatches", vector(USTRING)),
        ("existWatches", vector(USTRING)),
        ("childWatches", vector(USTRING)),
        ("persistentWatches", vector(USTRING)),
        ("persistentRecursiveWatches", vector(USTRING)),
    ],
)
RequestHeader = record("RequestHeader", [("xid", INT), ("type", INT)])
MultiHeader = record("MultiHeader", [("type", INT), ("done", BOOL), ("err", INT)])
AuthPacket = record("AuthPacket", [("type", INT), ("scheme", USTRING), ("auth", BUFFER)])
ReplyHeader = record("ReplyHeader", [("xid", INT), ("zxid", LONG), ("err", INT)])
GetDataRequest = record("GetDataRequest", [("path", USTRING), ("watch", BOOL)])
SetDataRequest = record("SetDataRequest", [("path", USTRING), ("data", BUFFER), ("version", INT)])
ReconfigRequest = record(
    "ReconfigRequest",
    [
        ("joiningServers", USTRING),
        ("leavingServers", USTRING),
        ("newMembers", USTRING),
        ("curConfigId", LONG),
    ],
)
SetDataResponse = record("SetDataResponse", [("stat", Stat)])
GetSASLRequest = record("GetSASLRequest", [("token", BUFFER)])
SetSASLRequest = record("SetSASLRequest", [("token", BUFFER)])
SetSASLResponse = record("SetSASLResponse", [("token", BUFFER)])
CreateRequest = record(
    "CreateRequest",
    [("path", USTRING), ("data", BUFFER), ("acl", vector(ACL)), ("flags", INT)],
)
CreateTTLRequest = record(
    "CreateTTLRequest",
    [("path", USTRING), ("data", BUFFER), ("acl", vector(ACL)), ("flags", INT), ("ttl", LONG)],
)
DeleteRequest = record("DeleteRequest", [("path", USTRING), ("version", INT)])
GetChildrenRequest = record("GetChildrenRequest", [("path", USTRING), ("watch", BOOL)])
GetAllChildrenNumberRequest = record("GetAllChildrenNumberRequest", [("path", USTRING)])
GetChildren2Request = record("GetChildren2Request", [("path", USTRING), ("watch", BOOL)])
CheckVersionRequest = record("CheckVersionRequest", [("path", USTRING), ("version", INT)])
GetMaxChildrenRequest = record("GetMaxChildrenRequest", [("path", USTRING)])
GetMaxChildrenResponse = record("GetMaxChildrenResponse", [("max", INT)])
SetMaxChildrenRequest = record("SetMaxChildrenRequest", [("path", USTRING), ("max", INT)])
SyncRequest = record("SyncRequest", [("path", USTRING)])
SyncResponse = record("SyncResponse", [("path", USTRING)])
GetACLRequest = record("GetACLRequest", [("path", USTRING)])
SetACLRequest = record("SetACLRequest", [("path", USTRING), ("acl", vector(ACL)), ("version", INT)])
SetACLResponse = record("SetACLResponse", [("stat", Stat)])
AddWatchRequest = record("AddWatchRequest", [("path", USTRING), ("mode", INT)])
WatcherEvent = record("WatcherEvent", [("type", INT), ("state", INT), ("path", USTRING)])
ErrorResponse = record("ErrorResponse", [("err", INT)])
CreateResponse = record("CreateResponse", [("path", USTRING)])
Create2Response = record("Create2Response", [("path", USTRING), ("stat", Stat)])
ExistsRequest = record("ExistsRequest", [("path", USTRING), ("watch", BOOL)])
ExistsResponse = record("ExistsResponse", [("stat", Stat)])
GetDataResponse = record("GetDataResponse", [("data", BUFFER), ("stat", Stat)])
GetChildrenResponse = record("GetChildrenResponse", [("children", vector(USTRING))])
GetAllChildrenNumberResponse = record("GetAllChildrenNumberResponse", [("totalNumber", INT)])
GetChildren2Response = record(
    "GetChildren2Response", [("children", vector(USTRING)), ("stat", Stat)]
)
GetACLResponse = record("GetACLResponse", [("acl", vector(ACL)), ("stat", Stat)])
CheckWatchesRequest = record("CheckWatchesRequest", [("path", USTRING), ("type", INT)])
RemoveWatchesRequest = record("RemoveWatchesRequest", [("path", USTRING), ("type", INT)])
GetEphemeralsRequest = record("GetEphemeralsRequest", [("prefixPath", USTRING)])
GetEphemeralsResponse = record("GetEphemeralsResponse", [("ephemerals", vector(USTRING))])
WhoAmIResponse = record("WhoAmIResponse", [("clientInfo", vector(ClientInfo))])

# module org.apache.zookeeper.server.quorum
LearnerInfo = record(
    "LearnerInfo", [("serverid", LONG), ("protocolVersion", INT), ("configVersion", LONG)]
)
QuorumPacket = record(
    "QuorumPacket",
    [("type", INT), ("zxid", LONG), ("data", BUFFER), ("authinfo", vector(Id))],
)
QuorumAuthPacket = record(
    "QuorumAuthPacket", [("magic", LONG), ("status", INT), ("token", BUFFER)]
)

# module org.apache.zookeeper.server.persistence
FileHeader = record("FileHeader", [("magic", INT), ("version", INT), ("dbid", LONG)])

# module org.apache.zookeeper.txn
TxnDigest = record("TxnDigest", [("version", INT), ("treeDigest", LONG)])
TxnHeader = record(
    "TxnHeader",
    [("clientId", LONG), ("cxid", INT), ("zxid", LONG), ("time", LONG), ("type", INT)],
)
CreateTxnV0 = record(
    "CreateTxnV0",
    [("path", USTRING), ("data", BUFFER), ("acl", vector(ACL)), ("ephemeral", BOOL)],
)
CreateTxn = record(
    "CreateTxn",
    [
        ("path", USTRING),
        ("data", BUFFER),
        ("acl", vector(ACL)),
        ("ephemeral", BOOL),
        ("parentCVersion", INT),
    ],
)
CreateTTLTxn = record(
    "CreateTTLTxn",
    [
        ("path", USTRING),
        ("data", BUFFER),
        ("acl", vector(ACL)),
        ("parentCVersion", INT),
        ("ttl", LONG),
    ],
)
CreateContainerTxn = record(
    "CreateContainerTxn",
    [("path", USTRING), ("data", BUFFER), ("acl", vector(ACL)), ("parentCVersion", INT)],
)
DeleteTxn = record("DeleteTxn", [("path", USTRING)])
SetDataTxn = record("SetDataTxn", [("path", USTRING), ("data", BUFFER), ("version", INT)])
CheckVersionTxn = record("CheckVersionTxn", [("path", USTRING), ("version", INT)])
SetACLTxn = record("SetACLTxn", [("path", USTRING), ("acl", vector(ACL)), ("version", INT)])
SetMaxChildrenTxn = record("SetMaxChildrenTxn", [("path", USTRING), ("max", INT)])
CreateSessionTxn = record("CreateSessionTxn", [("timeOut", INT)])
CloseSessionTxn = record("CloseSessionTxn", [("paths2Delete", vector(USTRING))])
ErrorTxn = record("ErrorTxn", [("err", INT)])
Txn = record("Txn", [("type", INT), ("data", BUFFER)])
MultiTxn = record("MultiTxn", [("txns", vector(Txn))])
