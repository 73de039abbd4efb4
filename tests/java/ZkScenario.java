import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.AsyncCallback.StatCallback;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.KeeperException.Code;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.Watcher.WatcherType;
import org.apache.zookeeper.ZKUtil;
import org.apache.zookeeper.ZooDefs.Ids;
import org.apache.zookeeper.ZooDefs.Perms;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;

/**
 * Drives one ZooKeeper server through a fixed script with the stock Java client and prints a
 * normalized transcript (see Transcript) to stdout, one line per step, so that the transcripts of
 * two servers can be compared line by line.
 *
 * Usage: java ZkScenario HOST:PORT
 *
 * Sessions: A does most of the work, B watches and changes things from the side; short-lived
 * sessions cover timeout negotiation, a second session's view of ephemerals, a reconnect that
 * re-registers watches, taking over a session by id and password, a wrong password, and a real
 * session expiry. Sessions that must lose their connection go through a BlockingProxy.
 *
 * Every step runs with its own time limit and catches its own failure, so one bad answer shows
 * up as one differing line instead of ending the run. The exit status is 0 when the script ran
 * to the end (whatever the answers), 2 when the first sessions could not connect, 3 when the
 * server stopped answering altogether.
 */
public final class ZkScenario {
    private static final long STEP_TIMEOUT_MS = 10_000;
    private static final long CONNECT_TIMEOUT_MS = 15_000;
    private static final long STATE_CHANGE_TIMEOUT_MS = 15_000;
    private static final long EXPIRY_TIMEOUT_MS = 30_000;
    private static final long RUN_LIMIT_MS = 110_000;
    private static final int MAX_CONSECUTIVE_TIMEOUTS = 3;
    private static final int SESSION_TIMEOUT_MS = 30_000;
    private static final int SHORT_SESSION_TIMEOUT_MS = 4_000;
    private static final List<ACL> OPEN = Ids.OPEN_ACL_UNSAFE;

    private final String connectString;
    private final String serverHost;
    private final int serverPort;
    private final Transcript out = new Transcript();
    private final ExecutorService pool = Executors.newCachedThreadPool(runnable -> {
        Thread thread = new Thread(runnable, "step");
        thread.setDaemon(true);
        return thread;
    });
    private int consecutiveTimeouts;
    private Session a;
    private Session b;
    private String kidCreatedBySequence;

    private ZkScenario(String connectString) {
        this.connectString = connectString;
        String first = connectString.split(",")[0];
        int colon = first.lastIndexOf(':');
        this.serverHost = first.substring(0, colon);
        this.serverPort = Integer.parseInt(first.substring(colon + 1));
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: java ZkScenario HOST:PORT");
            System.exit(64);
        }
        startWatchdog();
        System.exit(new ZkScenario(args[0]).run());
    }

    private static void startWatchdog() {
        Thread watchdog = new Thread(() -> {
            try {
                Thread.sleep(RUN_LIMIT_MS);
            } catch (InterruptedException e) {
                return;
            }
            System.out.println("FATAL run exceeded " + RUN_LIMIT_MS + " ms");
            System.out.flush();
            Runtime.getRuntime().halt(3);
        }, "watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
    }

    private int run() throws Exception {
        a = connect("A", connectString, SESSION_TIMEOUT_MS);
        b = a == null ? null : connect("B", connectString, SESSION_TIMEOUT_MS);
        if (a == null || b == null) {
            out.line("FATAL could not connect to " + connectString);
            return 2;
        }
        removeLeftovers();
        sessionTimeouts();
        create();
        exists();
        getAndSetData();
        children();
        delete();
        sync();
        multi();
        acl();
        secondSessionSeesEphemeral();
        reconnectReregistersWatches();
        takeOverSessionById();
        wrongPassword();
        expiry();
        persistentWatches();
        removeWatches();
        sessionQueries();
        finish();
        out.line("END");
        return 0;
    }

    // ---- sections -------------------------------------------------------------------------

    private void sessionTimeouts() throws Exception {
        out.line("## session timeouts");
        Session low = connect("C", connectString, 1_000);
        closeSession(low);
        Session high = connect("D", connectString, 100_000);
        closeSession(high);
        step("A session password length", () -> String.valueOf(a.zk.getSessionPasswd().length));
    }

    private void create() {
        out.line("## create");
        create(a, "/it", "root", CreateMode.PERSISTENT);
        getChildren(a, "/", false);
        getChildren(a, "/zookeeper", false);
        exists(a, "/zookeeper", false);
        create(a, "/it/p", "p", CreateMode.PERSISTENT);
        create(a, "/it/e", "e", CreateMode.EPHEMERAL);
        create(a, "/it/ps-", "ps", CreateMode.PERSISTENT_SEQUENTIAL);
        create(a, "/it/es-", "es", CreateMode.EPHEMERAL_SEQUENTIAL);
        create(a, "/it/ps-", "ps", CreateMode.PERSISTENT_SEQUENTIAL);
        create2(a, "/it/c2", "c2", CreateMode.PERSISTENT);
        create2(a, "/it/c2e", "c2e", CreateMode.EPHEMERAL);
        create2(a, "/it/c2s-", "c2s", CreateMode.PERSISTENT_SEQUENTIAL);
        create2(a, "/it/c2es-", "c2es", CreateMode.EPHEMERAL_SEQUENTIAL);
        create(a, "/it/nul", null, CreateMode.PERSISTENT);
        getData(a, "/it/nul", false);
        create(a, "/it/empty", "", CreateMode.PERSISTENT);
        getData(a, "/it/empty", false);
        create(a, "/it/utf8", "h\u00e9llo \u2713", CreateMode.PERSISTENT);
        getData(a, "/it/utf8", false);
        step("A create async(StringCallback) /it/as 'as' PERSISTENT", () -> {
            CompletableFuture<String> done = new CompletableFuture<>();
            a.zk.create("/it/as", bytes("as"), OPEN, CreateMode.PERSISTENT,
                (int rc, String path, Object ctx, String name) ->
                    done.complete(rc(rc) + " name=" + name + " ctx=" + ctx),
                "ctx1");
            return done.get();
        });
        step("A create async(Create2Callback) /it/as2 'as2' EPHEMERAL", () -> {
            CompletableFuture<String> done = new CompletableFuture<>();
            a.zk.create("/it/as2", bytes("as2"), OPEN, CreateMode.EPHEMERAL,
                (int rc, String path, Object ctx, String name, Stat stat) ->
                    done.complete(rc(rc) + " name=" + name + " " + out.stat(stat, a.id())),
                null);
            return done.get();
        });
        step("A create async(StringCallback) /it/as 'again' PERSISTENT", () -> {
            CompletableFuture<String> done = new CompletableFuture<>();
            a.zk.create("/it/as", bytes("again"), OPEN, CreateMode.PERSISTENT,
                (int rc, String path, Object ctx, String name) -> done.complete(rc(rc) + " name=" + name),
                null);
            return done.get();
        });
        step("A create async(Create2Callback) /it/none/x 'x' PERSISTENT", () -> {
            CompletableFuture<String> done = new CompletableFuture<>();
            a.zk.create("/it/none/x", bytes("x"), OPEN, CreateMode.PERSISTENT,
                (int rc, String path, Object ctx, String name, Stat stat) ->
                    done.complete(rc(rc) + " name=" + name + " " + out.stat(stat, a.id())),
                null);
            return done.get();
        });
        create(a, "/it/p", "dup", CreateMode.PERSISTENT);
        create2(a, "/it/p", "dup", CreateMode.PERSISTENT);
        create(a, "/it/missing/child", "x", CreateMode.PERSISTENT);
        create(a, "/it/e/child", "x", CreateMode.PERSISTENT);
        create(a, "/it/e/seq-", "x", CreateMode.EPHEMERAL_SEQUENTIAL);
        create(a, "/", "x", CreateMode.PERSISTENT);
        create(a, "/zookeeper", "x", CreateMode.PERSISTENT);
        for (String bad : new String[] {"", "it", "/it/", "/it//x", "/it/./x", "/it/../x", "/it/bad\u0000"}) {
            create(a, bad, "x", CreateMode.PERSISTENT);
        }
        create(a, "/it/", "slash", CreateMode.PERSISTENT_SEQUENTIAL);
        create(a, "/it/big", "x", CreateMode.PERSISTENT);
        step("A setData /it/big <100000 bytes> -1", () -> {
            byte[] big = new byte[100_000];
            Arrays.fill(big, (byte) 'x');
            return out.stat(a.zk.setData("/it/big", big, -1), a.id());
        });
        getData(a, "/it/big", false);
        createWithAcl(a, "/it/acl-empty", Collections.emptyList(), "[]");
        createWithAcl(a, "/it/acl-digest", acl(Perms.ALL, "digest", "nocolon"), "digest:nocolon");
        createWithAcl(a, "/it/acl-bogus", acl(Perms.ALL, "bogus", "x"), "bogus:x");
        createWithAcl(a, "/it/acl-auth", Ids.CREATOR_ALL_ACL, "auth:");
        createWithAcl(a, "/it/acl-ip", acl(Perms.ALL, "ip", "10.1.2.3"), "ip:10.1.2.3");
        getData(a, "/it/acl-ip", false);
        getAcl(a, "/it/acl-ip");
        List<ACL> twice = new ArrayList<>(OPEN);
        twice.addAll(OPEN);
        createWithAcl(a, "/it/acl-twice", twice, "world:anyone twice");
        getAcl(a, "/it/acl-twice");
        exists(a, "/it", false);
    }

    private void exists() {
        out.line("## exists");
        exists(a, "/it/p", false);
        exists(a, "/it/nope", false);
        exists(a, "/it/w-new", true);
        create(b, "/it/w-new", "new", CreateMode.PERSISTENT);
        a.flush();
        setData(b, "/it/w-new", "again", -1);
        a.flush();
        exists(a, "/it/w-new", true);
        delete(b, "/it/w-new", -1);
        a.flush();
        exists(a, "/it/w-new", true);
        create(a, "/it/w-new", "own", CreateMode.EPHEMERAL);
        a.flush();
        delete(a, "/it/w-new", -1);
        a.flush();
        step("A exists async /it/p", () -> {
            CompletableFuture<String> done = new CompletableFuture<>();
            a.zk.exists("/it/p", false, statInto(a, done), null);
            return done.get();
        });
        step("A exists async /it/nope", () -> {
            CompletableFuture<String> done = new CompletableFuture<>();
            a.zk.exists("/it/nope", false, statInto(a, done), null);
            return done.get();
        });
    }

    private void getAndSetData() {
        out.line("## getData / setData");
        getData(a, "/it/p", false);
        setData(a, "/it/p", "p1", 0);
        setData(a, "/it/p", "p2", 0);
        setData(a, "/it/p", "p2", -1);
        setData(a, "/it/p", "p3", 2);
        setData(a, "/it/p", "p4", 99);
        setData(a, "/it/nope", "x", -1);
        getData(a, "/it/nope", false);
        getData(a, "/it/p", true);
        setData(b, "/it/p", "from-b", -1);
        a.flush();
        setData(b, "/it/p", "from-b-again", -1);
        a.flush();
        step("A getData /it/p watcher=w1", () -> {
            Stat stat = new Stat();
            byte[] data = a.zk.getData("/it/p", a.watcher("w1"), stat);
            return Transcript.data(data) + " " + out.stat(stat, a.id());
        });
        setData(b, "/it/p", "for-w1", -1);
        a.flush();
        exists(a, "/it/p", true);
        getData(a, "/it/p", true);
        setData(b, "/it/p", "once", -1);
        a.flush();
        create(a, "/it/gone", "g", CreateMode.PERSISTENT);
        getData(a, "/it/gone", true);
        delete(b, "/it/gone", -1);
        a.flush();
        step("A getData async /it/p", () -> {
            CompletableFuture<String> done = new CompletableFuture<>();
            a.zk.getData("/it/p", false, (rc, path, ctx, data, stat) ->
                done.complete(rc(rc) + " " + Transcript.data(data) + " " + out.stat(stat, a.id())), null);
            return done.get();
        });
        step("A getData async /it/nope", () -> {
            CompletableFuture<String> done = new CompletableFuture<>();
            a.zk.getData("/it/nope", false, (rc, path, ctx, data, stat) ->
                done.complete(rc(rc) + " " + Transcript.data(data) + " " + out.stat(stat, a.id())), null);
            return done.get();
        });
        step("A setData async /it/p 'async' 99", () -> {
            CompletableFuture<String> done = new CompletableFuture<>();
            a.zk.setData("/it/p", bytes("async"), 99, statInto(a, done), null);
            return done.get();
        });
        step("A setData async /it/p 'async' -1", () -> {
            CompletableFuture<String> done = new CompletableFuture<>();
            a.zk.setData("/it/p", bytes("async"), -1, statInto(a, done), null);
            return done.get();
        });
        setData(a, "/it/p", null, -1);
        getData(a, "/it/p", false);
    }

    private void children() {
        out.line("## children");
        create(a, "/it/kids", "k", CreateMode.PERSISTENT);
        getChildren(a, "/it/kids", false);
        getChildren2(a, "/it/kids", false);
        getChildren(a, "/it/kids", true);
        create(b, "/it/kids/k1", "1", CreateMode.PERSISTENT);
        a.flush();
        create(b, "/it/kids/k2", "2", CreateMode.PERSISTENT);
        a.flush();
        getChildren(a, "/it/kids", true);
        setData(b, "/it/kids", "changed", -1);
        a.flush();
        delete(b, "/it/kids/k1", -1);
        a.flush();
        getChildren2(a, "/it/kids", true);
        kidCreatedBySequence = create(b, "/it/kids/k3-", "3", CreateMode.EPHEMERAL_SEQUENTIAL);
        a.flush();
        getChildren2(a, "/it/kids", false);
        getChildren(a, "/it/kids/k2", true);
        delete(b, "/it/kids/k2", -1);
        a.flush();
        getChildren(a, "/it/nope", false);
        getChildren2(a, "/it/nope", false);
        step("A getChildren async(ChildrenCallback) /it/kids", () -> {
            CompletableFuture<String> done = new CompletableFuture<>();
            a.zk.getChildren("/it/kids", false, (int rc, String path, Object ctx, List<String> kids) ->
                done.complete(rc(rc) + " " + Transcript.children(kids)), null);
            return done.get();
        });
        step("A getChildren async(Children2Callback) /it/kids", () -> {
            CompletableFuture<String> done = new CompletableFuture<>();
            a.zk.getChildren("/it/kids", false, (int rc, String path, Object ctx, List<String> kids, Stat stat) ->
                done.complete(rc(rc) + " " + Transcript.children(kids) + " " + out.stat(stat, a.id())), null);
            return done.get();
        });
        step("A getChildren async(Children2Callback) /it/nope", () -> {
            CompletableFuture<String> done = new CompletableFuture<>();
            a.zk.getChildren("/it/nope", false, (int rc, String path, Object ctx, List<String> kids, Stat stat) ->
                done.complete(rc(rc) + " " + Transcript.children(kids) + " " + out.stat(stat, a.id())), null);
            return done.get();
        });
        getChildren2(a, "/it", false);
    }

    private void delete() {
        out.line("## delete");
        create(a, "/it/d", "d", CreateMode.PERSISTENT);
        setData(a, "/it/d", "d1", -1);
        delete(a, "/it/d", 0);
        delete(a, "/it/d", 1);
        delete(a, "/it/d", -1);
        delete(a, "/it", -1);
        delete(a, "/", -1);
        delete(a, "/zookeeper", -1);
        delete(a, "/zookeeper/quota", -1);
        delete(a, "/zookeeper/config", -1);
        delete(a, "/it/", -1);
        delete(a, "it", -1);
        create(a, "/it/ad", "ad", CreateMode.PERSISTENT);
        step("A delete async /it/ad 5", () -> deleteAsync(a, "/it/ad", 5));
        step("A delete async /it/ad 0", () -> deleteAsync(a, "/it/ad", 0));
        step("A delete async /it/ad -1", () -> deleteAsync(a, "/it/ad", -1));
        getChildren2(a, "/it/kids", false);
        delete(a, kidCreatedBySequence, -1);
        getChildren2(a, "/it/kids", false);
    }

    private void sync() {
        out.line("## sync");
        for (String path : new String[] {"/it", "/it/nope", "/"}) {
            step("A sync " + path, () -> {
                CompletableFuture<String> done = new CompletableFuture<>();
                a.zk.sync(path, (rc, p, ctx) -> done.complete(rc(rc) + " path=" + p), null);
                return done.get();
            });
        }
        step("A sync it", () -> {
            CompletableFuture<String> done = new CompletableFuture<>();
            a.zk.sync("it", (rc, p, ctx) -> done.complete(rc(rc)), null);
            return done.get();
        });
    }

    private void multi() {
        out.line("## multi");
        multi(a, "create m1, create m2 ephemeral, create ms- sequential, setData m1, check m1 v1, delete m2",
            Op.create("/it/m1", bytes("m1"), OPEN, CreateMode.PERSISTENT),
            Op.create("/it/m2", bytes("m2"), OPEN, CreateMode.EPHEMERAL),
            Op.create("/it/ms-", bytes("ms"), OPEN, CreateMode.PERSISTENT_SEQUENTIAL),
            Op.setData("/it/m1", bytes("m1b"), -1),
            Op.check("/it/m1", 1),
            Op.delete("/it/m2", -1));
        exists(a, "/it/m1", false);
        exists(a, "/it/m2", false);
        multi(a, "create m3, setData m1 v99, delete nope",
            Op.create("/it/m3", bytes("m3"), OPEN, CreateMode.PERSISTENT),
            Op.setData("/it/m1", bytes("x"), 99),
            Op.delete("/it/nope", -1));
        exists(a, "/it/m3", false);
        multi(a, "check nope", Op.check("/it/nope", 0));
        multi(a, "check m1 v0", Op.check("/it/m1", 0));
        multi(a, "create m1", Op.create("/it/m1", bytes("x"), OPEN, CreateMode.PERSISTENT));
        multi(a, "create m4, create m4",
            Op.create("/it/m4", bytes("x"), OPEN, CreateMode.PERSISTENT),
            Op.create("/it/m4", bytes("y"), OPEN, CreateMode.PERSISTENT));
        multi(a, "create m5 ephemeral, create m5/child",
            Op.create("/it/m5", bytes("x"), OPEN, CreateMode.EPHEMERAL),
            Op.create("/it/m5/child", bytes("y"), OPEN, CreateMode.PERSISTENT));
        multi(a, "delete m1, create m1",
            Op.delete("/it/m1", -1),
            Op.create("/it/m1", bytes("again"), OPEN, CreateMode.PERSISTENT));
        multi(a, "create m6, create m6/a, delete m6/a, delete m6",
            Op.create("/it/m6", bytes("x"), OPEN, CreateMode.PERSISTENT),
            Op.create("/it/m6/a", bytes("y"), OPEN, CreateMode.PERSISTENT),
            Op.delete("/it/m6/a", -1),
            Op.delete("/it/m6", -1));
        multi(a, "empty");
        multi(a, "create bad path", Op.create("bad", bytes("x"), OPEN, CreateMode.PERSISTENT));
        multi(a, "read: getData m1, getChildren kids, getData nope, getChildren nope",
            Op.getData("/it/m1"),
            Op.getChildren("/it/kids"),
            Op.getData("/it/nope"),
            Op.getChildren("/it/nope"));
        multi(a, "mixed read and write", Op.getData("/it/m1"), Op.setData("/it/m1", bytes("x"), -1));
        step("A transaction create m7, setData m7", () -> out.opResults(
            a.zk.transaction()
                .create("/it/m7", bytes("m7"), OPEN, CreateMode.PERSISTENT)
                .setData("/it/m7", bytes("m7b"), 0)
                .commit(), a.id()));
        step("A multi async create m8, check m8 v0", () -> multiAsync(a,
            Op.create("/it/m8", bytes("m8"), OPEN, CreateMode.PERSISTENT),
            Op.check("/it/m8", 0)));
        step("A multi async create m9, check m8 v5", () -> multiAsync(a,
            Op.create("/it/m9", bytes("m9"), OPEN, CreateMode.PERSISTENT),
            Op.check("/it/m8", 5)));
        exists(a, "/it/mw", true);
        multi(a, "create mw, setData mw",
            Op.create("/it/mw", bytes("mw"), OPEN, CreateMode.PERSISTENT),
            Op.setData("/it/mw", bytes("mw2"), -1));
        a.flush();
        create(a, "/it/mk", "mk", CreateMode.PERSISTENT);
        getData(a, "/it/m1", true);
        getChildren(a, "/it/mk", true);
        multi(b, "setData m1, create mk/c",
            Op.setData("/it/m1", bytes("by-b"), -1),
            Op.create("/it/mk/c", bytes("c"), OPEN, CreateMode.PERSISTENT));
        a.flush();
    }

    private void acl() {
        out.line("## acl");
        create(a, "/it/acl", "a", CreateMode.PERSISTENT);
        getAcl(a, "/it/acl");
        setAcl(a, "/it/acl", acl(Perms.READ | Perms.ADMIN, "world", "anyone"), "world:anyone ra", 0);
        setAcl(a, "/it/acl", OPEN, "world:anyone all", 0);
        setAcl(a, "/it/acl", OPEN, "world:anyone all", -1);
        setAcl(a, "/it/acl", OPEN, "world:anyone all", 2);
        getAcl(a, "/it/acl");
        setAcl(a, "/it/nope", OPEN, "world:anyone all", -1);
        setAcl(a, "/it/acl", Collections.emptyList(), "[]", -1);
        setAcl(a, "/it/acl", acl(Perms.ALL, "digest", "nocolon"), "digest:nocolon", -1);
        getAcl(a, "/it/nope");
        step("A getACL async /it/acl", () -> {
            CompletableFuture<String> done = new CompletableFuture<>();
            a.zk.getACL("/it/acl", new Stat(), (rc, path, ctx, acls, stat) ->
                done.complete(rc(rc) + " " + Transcript.acls(acls) + " " + out.stat(stat, a.id())), null);
            return done.get();
        });
        step("A setACL async /it/acl world:anyone all 9", () -> {
            CompletableFuture<String> done = new CompletableFuture<>();
            a.zk.setACL("/it/acl", OPEN, 9, statInto(a, done), null);
            return done.get();
        });
        createWithAcl(a, "/it/ro", Ids.READ_ACL_UNSAFE, "world:anyone r");
        getData(a, "/it/ro", false);
        setData(a, "/it/ro", "x", -1);
        create(a, "/it/ro/child", "x", CreateMode.PERSISTENT);
        setAcl(a, "/it/ro", OPEN, "world:anyone all", -1);
        getAcl(a, "/it/ro");
        getChildren(a, "/it/ro", false);
        delete(a, "/it/ro", -1);
        createWithAcl(a, "/it/nocreate", acl(Perms.ALL & ~Perms.CREATE, "world", "anyone"), "world:anyone -c");
        create(a, "/it/nocreate/child", "x", CreateMode.PERSISTENT);
        createWithAcl(a, "/it/nodelete", acl(Perms.ALL & ~Perms.DELETE, "world", "anyone"), "world:anyone -d");
        create(a, "/it/nodelete/child", "x", CreateMode.PERSISTENT);
        delete(a, "/it/nodelete/child", -1);
        delete(a, "/it/nodelete", -1);
    }

    private void secondSessionSeesEphemeral() throws Exception {
        out.line("## second session sees ephemeral");
        Session s = connect("S", connectString, SESSION_TIMEOUT_MS);
        if (s == null) {
            return;
        }
        create(a, "/it/sess", "sess", CreateMode.PERSISTENT);
        create(s, "/it/sess/eph", "owned-by-s", CreateMode.EPHEMERAL);
        exists(b, "/it/sess/eph", true);
        getChildren(b, "/it/sess", true);
        getData(a, "/it/sess/eph", false);
        exists(s, "/it/sess/eph", false);
        step("S getEphemerals", () -> Transcript.children(s.zk.getEphemerals()));
        closeSession(s);
        b.flush();
        exists(b, "/it/sess/eph", false);
        getChildren2(b, "/it/sess", false);
    }

    private void reconnectReregistersWatches() throws Exception {
        out.line("## reconnect re-registers watches");
        try (BlockingProxy proxy = new BlockingProxy(serverHost, serverPort)) {
            Session r = connect("R", proxy.address(), SESSION_TIMEOUT_MS);
            if (r == null) {
                return;
            }
            create(a, "/it/r", "r", CreateMode.PERSISTENT);
            create(a, "/it/r/w", "w", CreateMode.PERSISTENT);
            create(a, "/it/r/gone", "g", CreateMode.PERSISTENT);
            create(a, "/it/r/same", "s", CreateMode.PERSISTENT);
            create(a, "/it/r/kids", "k", CreateMode.PERSISTENT);
            create(r, "/it/r/eph", "e", CreateMode.EPHEMERAL);
            getData(r, "/it/r/w", true);
            exists(r, "/it/r/gone", true);
            exists(r, "/it/r/new", true);
            getChildren(r, "/it/r/kids", true);
            getData(r, "/it/r/same", true);
            getChildren(r, "/it/r", true);
            out.line("R cut off");
            proxy.block();
            r.awaitEvent("None Disconnected", STATE_CHANGE_TIMEOUT_MS);
            setData(b, "/it/r/w", "w2", -1);
            delete(b, "/it/r/gone", -1);
            create(b, "/it/r/new", "n", CreateMode.PERSISTENT);
            create(b, "/it/r/kids/k", "k", CreateMode.PERSISTENT);
            exists(b, "/it/r/eph", false);
            out.line("R let back in");
            proxy.unblock();
            r.awaitEvent("None SyncConnected", STATE_CHANGE_TIMEOUT_MS);
            r.flush();
            setData(b, "/it/r/same", "s2", -1);
            r.flush();
            exists(r, "/it/r/eph", false);
            getData(r, "/it/r/w", false);
            closeSession(r);
        }
    }

    private void takeOverSessionById() throws Exception {
        out.line("## take over a session by id and password");
        try (BlockingProxy proxy = new BlockingProxy(serverHost, serverPort)) {
            Session t = connect("T", proxy.address(), SESSION_TIMEOUT_MS);
            if (t == null) {
                return;
            }
            create(a, "/it/t", "t", CreateMode.PERSISTENT);
            create(t, "/it/t/eph", "e", CreateMode.EPHEMERAL);
            exists(b, "/it/t/eph", true);
            out.line("T cut off");
            proxy.block();
            t.awaitEvent("None Disconnected", STATE_CHANGE_TIMEOUT_MS);
            Session t2 = connect("T2", connectString, SESSION_TIMEOUT_MS, t.id(), t.zk.getSessionPasswd());
            if (t2 != null) {
                step("T2 session id equals T", () -> String.valueOf(t2.id() == t.id()));
                exists(t2, "/it/t/eph", false);
                getData(t2, "/it/t/eph", false);
                create(t2, "/it/t/eph2", "e2", CreateMode.EPHEMERAL);
                closeSession(t2);
            }
            b.flush();
            getChildren2(b, "/it/t", false);
            out.line("T let back in");
            proxy.unblock();
            t.awaitEvent("None Expired", STATE_CHANGE_TIMEOUT_MS);
            exists(t, "/it/t", false);
            t.zk.close();
        }
    }

    private void wrongPassword() throws Exception {
        out.line("## wrong password");
        Session v = connect("V", connectString, SESSION_TIMEOUT_MS);
        if (v == null) {
            return;
        }
        create(v, "/it/v-eph", "v", CreateMode.EPHEMERAL);
        byte[] wrong = v.zk.getSessionPasswd().clone();
        wrong[0] ^= 0x55;
        Session w = new Session("W", out, connectString, SESSION_TIMEOUT_MS, v.id(), wrong);
        w.awaitEvent("None Expired", CONNECT_TIMEOUT_MS);
        w.zk.close();
        v.awaitEvent("None SyncConnected", STATE_CHANGE_TIMEOUT_MS);
        exists(v, "/it/v-eph", false);
        closeSession(v);
    }

    private void expiry() throws Exception {
        out.line("## session expiry");
        try (BlockingProxy proxy = new BlockingProxy(serverHost, serverPort)) {
            Session x = connect("X", proxy.address(), SHORT_SESSION_TIMEOUT_MS);
            if (x == null) {
                return;
            }
            create(a, "/it/x", "x", CreateMode.PERSISTENT);
            create(x, "/it/x/eph", "e", CreateMode.EPHEMERAL);
            exists(b, "/it/x/eph", true);
            out.line("X cut off until B sees its ephemeral go");
            proxy.block();
            x.awaitEvent("None Disconnected", STATE_CHANGE_TIMEOUT_MS);
            b.awaitEvent("NodeDeleted", EXPIRY_TIMEOUT_MS);
            b.flush();
            out.line("X let back in");
            proxy.unblock();
            x.awaitEvent("None Expired", STATE_CHANGE_TIMEOUT_MS);
            getData(x, "/it/x", false);
            getChildren2(b, "/it/x", false);
            x.zk.close();
        }
    }

    private void persistentWatches() {
        out.line("## persistent watches");
        create(a, "/it/pw", "pw", CreateMode.PERSISTENT);
        step("A addWatch /it/pw PERSISTENT", () -> {
            a.zk.addWatch("/it/pw", AddWatchMode.PERSISTENT);
            return "OK";
        });
        setData(b, "/it/pw", "1", -1);
        setData(b, "/it/pw", "2", -1);
        create(b, "/it/pw/c", "c", CreateMode.PERSISTENT);
        setData(b, "/it/pw/c", "c2", -1);
        delete(b, "/it/pw/c", -1);
        a.flush();
        create(a, "/it/rw", "rw", CreateMode.PERSISTENT);
        step("A addWatch /it/rw PERSISTENT_RECURSIVE", () -> {
            a.zk.addWatch("/it/rw", AddWatchMode.PERSISTENT_RECURSIVE);
            return "OK";
        });
        create(b, "/it/rw/a", "a", CreateMode.PERSISTENT);
        setData(b, "/it/rw/a", "a2", -1);
        create(b, "/it/rw/a/b", "b", CreateMode.PERSISTENT);
        delete(b, "/it/rw/a/b", -1);
        delete(b, "/it/rw/a", -1);
        setData(b, "/it/rw", "rw2", -1);
        a.flush();
        step("A addWatch /it/nope PERSISTENT", () -> {
            a.zk.addWatch("/it/nope", AddWatchMode.PERSISTENT);
            return "OK";
        });
        create(b, "/it/nope", "now", CreateMode.PERSISTENT);
        delete(b, "/it/nope", -1);
        a.flush();
    }

    private void removeWatches() {
        out.line("## remove watches");
        create(a, "/it/rm", "rm", CreateMode.PERSISTENT);
        getData(a, "/it/rm", true);
        step("A removeWatches /it/rm default Data", () -> {
            a.zk.removeWatches("/it/rm", a, WatcherType.Data, false);
            return "OK";
        });
        a.flush();
        setData(b, "/it/rm", "x", -1);
        a.flush();
        step("A removeWatches /it/rm default Data (none left)", () -> {
            a.zk.removeWatches("/it/rm", a, WatcherType.Data, false);
            return "OK";
        });
        getChildren(a, "/it/rm", true);
        step("A removeAllWatches /it/rm Children", () -> {
            a.zk.removeAllWatches("/it/rm", WatcherType.Children, false);
            return "OK";
        });
        a.flush();
        create(b, "/it/rm/c", "c", CreateMode.PERSISTENT);
        a.flush();
    }

    private void sessionQueries() {
        out.line("## session queries");
        step("A getEphemerals", () -> Transcript.children(a.zk.getEphemerals()));
        step("A getEphemerals /it/e", () -> Transcript.children(a.zk.getEphemerals("/it/e")));
        step("A getEphemerals /it/nope", () -> Transcript.children(a.zk.getEphemerals("/it/nope")));
        step("B getEphemerals", () -> Transcript.children(b.zk.getEphemerals()));
        step("A getAllChildrenNumber /it", () -> String.valueOf(a.zk.getAllChildrenNumber("/it")));
        step("A getAllChildrenNumber /it/kids", () -> String.valueOf(a.zk.getAllChildrenNumber("/it/kids")));
        step("A getAllChildrenNumber /it/nope", () -> String.valueOf(a.zk.getAllChildrenNumber("/it/nope")));
        step("A whoAmI", () -> {
            List<String> ids = new ArrayList<>();
            for (ClientInfo info : a.zk.whoAmI()) {
                ids.add(info.getAuthScheme() + ":" + info.getUser());
            }
            return ids.toString();
        });
    }

    private void finish() throws Exception {
        out.line("## close");
        getChildren(b, "/it", false);
        closeSession(a);
        getChildren2(b, "/it", false);
        closeSession(b);
    }

    // ---- steps ----------------------------------------------------------------------------

    /** Runs body with a time limit and prints "desc -> result" or the failure. */
    private void step(String desc, Callable<String> body) {
        Future<String> future = pool.submit(body);
        String result;
        try {
            result = future.get(STEP_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            consecutiveTimeouts = 0;
        } catch (ExecutionException e) {
            result = describe(e.getCause());
            consecutiveTimeouts = 0;
        } catch (TimeoutException e) {
            future.cancel(true);
            result = "TIMEOUT";
            consecutiveTimeouts++;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            result = "INTERRUPTED";
        }
        out.line(desc + " -> " + result);
        if (consecutiveTimeouts >= MAX_CONSECUTIVE_TIMEOUTS) {
            out.line("FATAL " + MAX_CONSECUTIVE_TIMEOUTS + " steps in a row timed out");
            Runtime.getRuntime().halt(3);
        }
    }

    private static String describe(Throwable failure) {
        if (failure instanceof KeeperException) {
            return "KeeperException " + ((KeeperException) failure).code();
        }
        if (failure instanceof IllegalArgumentException) {
            return "IllegalArgumentException: " + failure.getMessage();
        }
        return failure.getClass().getSimpleName() + ": " + failure.getMessage();
    }

    private Session connect(String label, String connect, int sessionTimeoutMs) throws Exception {
        return opened(new Session(label, out, connect, sessionTimeoutMs), sessionTimeoutMs);
    }

    private Session connect(String label, String connect, int sessionTimeoutMs, long sessionId, byte[] password)
            throws Exception {
        return opened(new Session(label, out, connect, sessionTimeoutMs, sessionId, password), sessionTimeoutMs);
    }

    private Session opened(Session session, int sessionTimeoutMs) throws Exception {
        if (!session.awaitEvent("None SyncConnected", CONNECT_TIMEOUT_MS)) {
            out.line(session.label + " connect -> FAILED");
            session.zk.close();
            return null;
        }
        out.nameSession(session.id(), session.label);
        out.line(session.label + " connect requested_timeout=" + sessionTimeoutMs
            + " -> negotiated_timeout=" + session.zk.getSessionTimeout());
        return session;
    }

    private void closeSession(Session session) throws InterruptedException {
        step(session.label + " close", () -> {
            session.zk.close();
            return "OK";
        });
        session.awaitEvent("None Closed", STATE_CHANGE_TIMEOUT_MS);
    }

    private void removeLeftovers() {
        try {
            if (a.zk.exists("/it", false) != null) {
                ZKUtil.deleteRecursive(a.zk, "/it");
            }
        } catch (Exception e) {
            out.line("could not remove /it left over from an earlier run: " + describe(e));
        }
    }

    /** Returns the path the server created, or the requested path when the create failed. */
    private String create(Session s, String path, String data, CreateMode mode) {
        AtomicReference<String> created = new AtomicReference<>(path);
        step(s.label + " create " + path + " " + Transcript.data(bytes(data)) + " " + mode, () -> {
            created.set(s.zk.create(path, bytes(data), OPEN, mode));
            return created.get();
        });
        return created.get();
    }

    private void create2(Session s, String path, String data, CreateMode mode) {
        step(s.label + " create2 " + path + " " + Transcript.data(bytes(data)) + " " + mode, () -> {
            Stat stat = new Stat();
            String created = s.zk.create(path, bytes(data), OPEN, mode, stat);
            return created + " " + out.stat(stat, s.id());
        });
    }

    private void createWithAcl(Session s, String path, List<ACL> acl, String aclName) {
        step(s.label + " create " + path + " acl=" + aclName,
            () -> s.zk.create(path, bytes("acl"), acl, CreateMode.PERSISTENT));
    }

    private void exists(Session s, String path, boolean watch) {
        step(s.label + " exists " + path + (watch ? " watch" : ""), () -> out.stat(s.zk.exists(path, watch), s.id()));
    }

    private void getData(Session s, String path, boolean watch) {
        step(s.label + " getData " + path + (watch ? " watch" : ""), () -> {
            Stat stat = new Stat();
            byte[] data = s.zk.getData(path, watch, stat);
            return Transcript.data(data) + " " + out.stat(stat, s.id());
        });
    }

    private void setData(Session s, String path, String data, int version) {
        step(s.label + " setData " + path + " " + Transcript.data(bytes(data)) + " " + version,
            () -> out.stat(s.zk.setData(path, bytes(data), version), s.id()));
    }

    private void delete(Session s, String path, int version) {
        step(s.label + " delete " + path + " " + version, () -> {
            s.zk.delete(path, version);
            return "OK";
        });
    }

    private void getChildren(Session s, String path, boolean watch) {
        step(s.label + " getChildren " + path + (watch ? " watch" : ""),
            () -> Transcript.children(s.zk.getChildren(path, watch)));
    }

    private void getChildren2(Session s, String path, boolean watch) {
        step(s.label + " getChildren2 " + path + (watch ? " watch" : ""), () -> {
            Stat stat = new Stat();
            List<String> kids = s.zk.getChildren(path, watch, stat);
            return Transcript.children(kids) + " " + out.stat(stat, s.id());
        });
    }

    private void getAcl(Session s, String path) {
        step(s.label + " getACL " + path, () -> {
            Stat stat = new Stat();
            List<ACL> acls = s.zk.getACL(path, stat);
            return Transcript.acls(acls) + " " + out.stat(stat, s.id());
        });
    }

    private void setAcl(Session s, String path, List<ACL> acl, String aclName, int version) {
        step(s.label + " setACL " + path + " " + aclName + " " + version,
            () -> out.stat(s.zk.setACL(path, acl, version), s.id()));
    }

    private void multi(Session s, String desc, Op... ops) {
        step(s.label + " multi [" + desc + "]", () -> {
            try {
                return "OK " + out.opResults(s.zk.multi(Arrays.asList(ops)), s.id());
            } catch (KeeperException e) {
                return "KeeperException " + e.code() + " " + out.opResults(e.getResults(), s.id());
            }
        });
    }

    private String multiAsync(Session s, Op... ops) throws Exception {
        CompletableFuture<String> done = new CompletableFuture<>();
        s.zk.multi(Arrays.asList(ops), (rc, path, ctx, results) ->
            done.complete(rc(rc) + " " + out.opResults(results, s.id())), null);
        return done.get();
    }

    private StatCallback statInto(Session s, CompletableFuture<String> done) {
        return (rc, path, ctx, stat) -> done.complete(rc(rc) + " " + out.stat(stat, s.id()));
    }

    private static String deleteAsync(Session s, String path, int version) throws Exception {
        CompletableFuture<String> done = new CompletableFuture<>();
        s.zk.delete(path, version, (rc, p, ctx) -> done.complete(rc(rc)), null);
        return done.get();
    }

    private static String rc(int rc) {
        return "rc=" + Code.get(rc);
    }

    private static List<ACL> acl(int perms, String scheme, String id) {
        return Collections.singletonList(new ACL(perms, new Id(scheme, id)));
    }

    private static byte[] bytes(String text) {
        return text == null ? null : text.getBytes(StandardCharsets.UTF_8);
    }
}
