import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import org.apache.zookeeper.KeeperException.Code;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Stat;

/**
 * The normalized, line-oriented transcript of a scenario run.
 *
 * Two servers given the same script must print the same lines, so everything that legitimately
 * differs between runs is rewritten here: zxids become labels z1, z2, ... in order of first
 * appearance (so only their identity and order survive), session ids become the label of the
 * session that owns them ("self" for the caller's own), times are dropped, child lists are sorted,
 * and large data is summarised by length and CRC32. Control characters are escaped so a line is
 * always one line.
 */
final class Transcript {
    private static final int INLINE_DATA_LIMIT = 64;

    private final Map<Long, String> zxidLabels = new HashMap<>();
    private final Map<Long, String> sessionLabels = new HashMap<>();

    synchronized void line(String text) {
        System.out.println(escape(text));
        System.out.flush();
    }

    synchronized void nameSession(long sessionId, String label) {
        sessionLabels.putIfAbsent(sessionId, label);
    }

    synchronized String zxid(long zxid) {
        if (zxid == 0) {
            return "0";
        }
        String label = zxidLabels.get(zxid);
        if (label == null) {
            label = "z" + (zxidLabels.size() + 1);
            zxidLabels.put(zxid, label);
        }
        return label;
    }

    synchronized String owner(long ephemeralOwner, long selfSessionId) {
        if (ephemeralOwner == 0) {
            return "0";
        }
        if (ephemeralOwner == selfSessionId) {
            return "self";
        }
        return sessionLabels.getOrDefault(ephemeralOwner, "other");
    }

    String stat(Stat stat, long selfSessionId) {
        if (stat == null) {
            return "null";
        }
        return "{czxid=" + zxid(stat.getCzxid())
            + " mzxid=" + zxid(stat.getMzxid())
            + " pzxid=" + zxid(stat.getPzxid())
            + " version=" + stat.getVersion()
            + " cversion=" + stat.getCversion()
            + " aversion=" + stat.getAversion()
            + " ephemeralOwner=" + owner(stat.getEphemeralOwner(), selfSessionId)
            + " dataLength=" + stat.getDataLength()
            + " numChildren=" + stat.getNumChildren() + "}";
    }

    String opResult(OpResult result, long selfSessionId) {
        if (result instanceof OpResult.CreateResult) {
            OpResult.CreateResult create = (OpResult.CreateResult) result;
            String stat = create.getStat() == null ? "" : " " + stat(create.getStat(), selfSessionId);
            return "create " + create.getPath() + stat;
        }
        if (result instanceof OpResult.SetDataResult) {
            return "setData " + stat(((OpResult.SetDataResult) result).getStat(), selfSessionId);
        }
        if (result instanceof OpResult.DeleteResult) {
            return "delete";
        }
        if (result instanceof OpResult.CheckResult) {
            return "check";
        }
        if (result instanceof OpResult.ErrorResult) {
            return "error " + Code.get(((OpResult.ErrorResult) result).getErr());
        }
        if (result instanceof OpResult.GetDataResult) {
            OpResult.GetDataResult get = (OpResult.GetDataResult) result;
            return "getData " + data(get.getData()) + " " + stat(get.getStat(), selfSessionId);
        }
        if (result instanceof OpResult.GetChildrenResult) {
            return "getChildren " + children(((OpResult.GetChildrenResult) result).getChildren());
        }
        return result.getClass().getSimpleName() + " type=" + result.getType();
    }

    String opResults(List<OpResult> results, long selfSessionId) {
        if (results == null) {
            return "null";
        }
        List<String> parts = new ArrayList<>();
        for (OpResult result : results) {
            parts.add(opResult(result, selfSessionId));
        }
        return "[" + String.join(", ", parts) + "]";
    }

    static String data(byte[] data) {
        if (data == null) {
            return "null";
        }
        if (data.length > INLINE_DATA_LIMIT) {
            CRC32 crc = new CRC32();
            crc.update(data);
            return "<" + data.length + " bytes crc32=" + Long.toHexString(crc.getValue()) + ">";
        }
        return "'" + new String(data, StandardCharsets.UTF_8) + "'";
    }

    static String children(List<String> children) {
        if (children == null) {
            return "null";
        }
        List<String> sorted = new ArrayList<>(children);
        Collections.sort(sorted);
        return sorted.toString();
    }

    static String acls(List<ACL> acls) {
        if (acls == null) {
            return "null";
        }
        List<String> parts = new ArrayList<>();
        for (ACL acl : acls) {
            parts.add(acl.getPerms() + ":" + acl.getId().getScheme() + ":" + acl.getId().getId());
        }
        return parts.toString();
    }

    private static String escape(String text) {
        StringBuilder escaped = new StringBuilder(text.length());
        for (char c : text.toCharArray()) {
            if (c < 0x20 || c == 0x7f) {
                escaped.append(String.format("\\u%04x", (int) c));
            } else {
                escaped.append(c);
            }
        }
        return escaped.toString();
    }
}
