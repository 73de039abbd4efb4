import java.io.File;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.StatPersisted;
import org.apache.zookeeper.server.DataNode;
import org.apache.zookeeper.server.DataTree;
import org.apache.zookeeper.server.persistence.FileTxnSnapLog;

/**
 * Loads a data directory the way Apache ZooKeeper starts up (FileTxnSnapLog.restore: newest valid
 * snapshot with its checksums, then replay of the txn log, digests compared on the way) and prints
 * what it loaded, for the persistence interop tests.
 *
 * <p>Usage: PersistenceOracle DATA_LOG_DIR DATA_DIR (the parents of version-2). Output, one item
 * per line: {@code zxid HEX}, {@code snapshot HEX} (the snapshot loaded, -1 for none),
 * {@code digest LONG} (DataTree.getTreeDigest), {@code mismatch HEX}
 * for each digest mismatch ZooKeeper reported, {@code session ID TIMEOUT}, and {@code node} lines
 * with the base64 path, the StatPersisted fields, the base64 data (or -) and the ACL.
 */
public final class PersistenceOracle {

    private PersistenceOracle() {
    }

    public static void main(String[] args) throws Exception {
        DataTree tree = new DataTree();
        List<Long> mismatches = new ArrayList<>();
        tree.addDigestWatcher(mismatches::add);
        Map<Long, Integer> sessions = new ConcurrentHashMap<>();
        FileTxnSnapLog snapLog = new FileTxnSnapLog(new File(args[0]), new File(args[1]));
        long zxid = snapLog.restore(tree, sessions, (header, txn, digest) -> { });
        long snapshotZxid = snapLog.getLastSnapshotInfo() == null ? -1 : snapLog.getLastSnapshotInfo().zxid;
        snapLog.close();

        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        out.println("zxid " + Long.toHexString(zxid));
        out.println("snapshot " + Long.toHexString(snapshotZxid));
        out.println("digest " + tree.getTreeDigest());
        for (long mismatch : mismatches) {
            out.println("mismatch " + Long.toHexString(mismatch));
        }
        for (Map.Entry<Long, Integer> session : new TreeMap<>(sessions).entrySet()) {
            out.println("session " + session.getKey() + " " + session.getValue());
        }
        Deque<String> pending = new ArrayDeque<>();
        pending.push("/");
        while (!pending.isEmpty()) {
            String path = pending.pop();
            DataNode node = tree.getNode(path);
            printNode(out, tree, path, node);
            for (String child : node.getChildren()) {
                pending.push(path.equals("/") ? "/" + child : path + "/" + child);
            }
        }
        out.flush();
    }

    private static void printNode(PrintStream out, DataTree tree, String path, DataNode node) {
        Base64.Encoder b64 = Base64.getEncoder();
        StatPersisted s = node.stat;
        byte[] data = node.getData();
        StringBuilder acl = new StringBuilder();
        for (ACL entry : tree.getACL(node)) {
            if (acl.length() > 0) {
                acl.append(',');
            }
            acl.append(entry.getPerms()).append(':').append(entry.getId().getScheme()).append(':')
                .append(b64.encodeToString(entry.getId().getId().getBytes(StandardCharsets.UTF_8)));
        }
        out.println("node " + b64.encodeToString(path.getBytes(StandardCharsets.UTF_8))
            + " " + s.getCzxid() + " " + s.getMzxid() + " " + s.getCtime() + " " + s.getMtime()
            + " " + s.getVersion() + " " + s.getCversion() + " " + s.getAversion()
            + " " + s.getEphemeralOwner() + " " + s.getPzxid()
            + " " + (data == null ? "-" : b64.encodeToString(data)) + " " + acl);
    }
}
