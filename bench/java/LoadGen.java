/*
 * LoadGen: a closed-loop load generator built on the stock Apache ZooKeeper Java client.
 *
 * Theory of operation: it opens N sessions, each with its own ZooKeeper handle (the client gives
 * every handle one I/O thread and one callback thread, so threads = 2N + main). Every session
 * keeps a window of W asynchronous requests in flight: a Semaphore holds W permits; a permit is
 * taken to issue a request and, when the request completes, the callback hands the same permit
 * straight to the next request instead of waking another thread. A failed request gives its
 * permit back and the main thread refills the window every 100 ms, so a broken server cannot
 * turn the callbacks into a busy loop. After a warm-up (JIT, server caches) one window of
 * `seconds` is measured: completions inside it are counted and their latencies (issue to
 * callback, microseconds) go into a log-linear histogram owned by the session's callback thread,
 * so recording needs no locks. At the end every window is drained (acquire all permits), which
 * also makes the callback threads' counters visible to the main thread.
 *
 * Workloads: `read`, `write` and `mixed` do getData / setData of a random prepared znode; `churn`
 * creates an ephemeral znode and deletes it again once the create completed (one operation is
 * that create+delete pair, its latency from issuing the create to the delete's reply). The
 * workloads `populate` (create a large tree) and `touch` (setData on it until stdin closes) of
 * the durability benchmark live in TreeLoad.java, `fanout` (one znode watched by many sessions)
 * in FanOut.java.
 *
 * `--connect` may list several servers (an ensemble): session i then connects to server
 * i mod n only, so the sessions are spread evenly instead of by the client's random pick.
 * `--server-pid` may list several pids; their CPU is summed.
 *
 * Output: one JSON line on stdout. On a fatal problem (cannot connect, cannot prepare the znodes)
 * the line carries an "error" field and the exit status is 1.
 */

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.zookeeper.AsyncCallback;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;

public final class LoadGen {
    private static final int SESSION_TIMEOUT_MS = 30_000;
    private static final long CONNECT_TIMEOUT_MS = 15_000;
    private static final long DRAIN_TIMEOUT_MS = 15_000;
    private static final long REFILL_INTERVAL_MS = 100;
    private static final long CLOSE_TIMEOUT_MS = 30_000;
    /** Creates in flight while preparing the znodes, whatever the row's own window (1 for the sync rows). */
    private static final int PREPARE_WINDOW = 100;
    private static final long CLOSE_POLL_MS = 10;

    /** Set while the measured window is open; read by every callback thread. */
    static volatile boolean recording = false;
    /** Cleared when the run ends: completions stop issuing follow-up requests. */
    static volatile boolean running = true;

    public static void main(String[] argv) throws Exception {
        Options opt;
        try {
            opt = Options.parse(argv);
        } catch (IllegalArgumentException e) {
            System.err.println("LoadGen: " + e.getMessage());
            System.err.println(Options.USAGE);
            System.exit(2);
            return;
        }
        Map<String, Object> result = new java.util.LinkedHashMap<>();
        result.put("workload", opt.workload);
        result.put("read_pct", opt.readPct);
        result.put("sessions", opt.sessions);
        result.put("outstanding", opt.outstanding);
        result.put("value_size", opt.valueSize);
        result.put("znodes", opt.znodes);
        List<Session> sessions = new ArrayList<>();
        List<ZooKeeper> treeHandles = new ArrayList<>();
        int status = 0;
        try {
            if (opt.treeWorkload()) {
                TreeLoad.run(opt, treeHandles, result);
            } else if (opt.workload.equals("fanout")) {
                FanOut.run(opt, treeHandles, result);
            } else {
                run(opt, sessions, result);
            }
        } catch (Exception e) {
            result.put("error", e.getClass().getSimpleName() + ": " + e.getMessage());
            status = 1;
        } finally {
            running = false;
            List<ZooKeeper> handles = new ArrayList<>(treeHandles);
            for (Session s : sessions) {
                handles.add(s.zk);
            }
            long closeStartNs = System.nanoTime();
            closeAll(handles);
            result.put("close_s", round((System.nanoTime() - closeStartNs) / 1e9, 2));
        }
        System.out.println(toJson(result));
        System.out.flush();
        System.exit(status);
    }

    private static void run(Options opt, List<Session> sessions, Map<String, Object> result)
            throws Exception {
        String[] paths = new String[opt.znodes];
        for (int i = 0; i < opt.znodes; i++) {
            paths[i] = opt.root + "/n" + i;
        }
        byte[] value = new byte[opt.valueSize];
        new Random(42).nextBytes(value);

        for (ZooKeeper zk : connectAll(opt, 0, opt.sessions)) {
            sessions.add(new Session(zk, opt, paths, value));
        }
        if (opt.workload.equals("churn")) {
            createIfMissing(sessions.get(0).zk, opt.root);
        } else {
            prepare(sessions.get(0).zk, opt, paths, value);
        }
        // Another server of an ensemble may not have applied the prepared znodes yet; a sync
        // through every session's server makes it catch up before the first read.
        for (Session s : sessions) {
            syncWith(s.zk, opt.root);
        }

        for (Session s : sessions) {
            s.refill();
        }
        sleepRefilling(sessions, opt.warmupSeconds * 1000L);

        Meter meter = new Meter(opt);
        recording = true;
        sleepRefilling(sessions, opt.seconds * 1000L);
        recording = false;
        double seconds = meter.stop(result);
        running = false;

        boolean drained = true;
        for (Session s : sessions) {
            drained &= s.window.tryAcquire(opt.outstanding, DRAIN_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        }

        Histogram all = new Histogram();
        long ops = 0;
        long errors = 0;
        int firstError = 0;
        for (Session s : sessions) {
            all.add(s.histogram);
            ops += s.ops;
            errors += s.errors;
            firstError = firstError != 0 ? firstError : s.firstError;
        }
        result.put("ops", ops);
        result.put("seconds", round(seconds, 3));
        result.put("ops_per_s", round(ops / seconds, 1));
        result.put("p50_us", all.percentile(0.50));
        result.put("p99_us", all.percentile(0.99));
        result.put("p999_us", all.percentile(0.999));
        result.put("max_us", all.max());
        result.put("errors", errors);
        if (firstError != 0) {
            result.put("first_error", KeeperException.Code.get(firstError).toString());
        }
        result.put("machine_cpus", Runtime.getRuntime().availableProcessors());
        if (!drained) {
            result.put("warning", "some requests were still outstanding " + DRAIN_TIMEOUT_MS + " ms after the run");
        }
    }

    private static void sleepRefilling(List<Session> sessions, long durationMs) throws InterruptedException {
        long deadline = System.nanoTime() + durationMs * 1_000_000L;
        while (true) {
            long leftMs = (deadline - System.nanoTime()) / 1_000_000L;
            if (leftMs <= 0) {
                return;
            }
            Thread.sleep(Math.min(leftMs, REFILL_INTERVAL_MS));
            for (Session s : sessions) {
                s.refill();
            }
        }
    }

    /** Creates root and root/n0..n(N-1) with the value; existing znodes are kept as they are. */
    private static void prepare(ZooKeeper zk, Options opt, String[] paths, byte[] value) throws Exception {
        createIfMissing(zk, opt.root);
        Semaphore window = new Semaphore(PREPARE_WINDOW);
        AtomicInteger failures = new AtomicInteger();
        AtomicInteger firstFailure = new AtomicInteger(0);
        AsyncCallback.StringCallback done = (rc, path, ctx, name) -> {
            if (rc != KeeperException.Code.OK.intValue() && rc != KeeperException.Code.NODEEXISTS.intValue()) {
                failures.incrementAndGet();
                firstFailure.compareAndSet(0, rc);
            }
            window.release();
        };
        for (String path : paths) {
            if (!window.tryAcquire(DRAIN_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
                throw new IllegalStateException("timed out creating " + path);
            }
            zk.create(path, value, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT, done, null);
        }
        if (!window.tryAcquire(PREPARE_WINDOW, DRAIN_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
            throw new IllegalStateException("timed out preparing znodes");
        }
        if (failures.get() > 0) {
            throw new IllegalStateException(failures.get() + " creates failed, first with "
                    + KeeperException.Code.get(firstFailure.get()));
        }
    }

    static void syncWith(ZooKeeper zk, String path) throws Exception {
        CountDownLatch synced = new CountDownLatch(1);
        int[] rc = {0};
        zk.sync(path, (code, p, ctx) -> {
            rc[0] = code;
            synced.countDown();
        }, null);
        if (!synced.await(DRAIN_TIMEOUT_MS, TimeUnit.MILLISECONDS) || rc[0] != KeeperException.Code.OK.intValue()) {
            throw new IllegalStateException("sync of " + path + " failed: " + KeeperException.Code.get(rc[0]));
        }
    }

    static void createIfMissing(ZooKeeper zk, String path) throws Exception {
        try {
            zk.create(path, new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        } catch (KeeperException.NodeExistsException e) {
            // a previous workload on the same server already created it
        }
    }

    /** Distinguishes the churn znodes of all sessions of this run (and of earlier runs by time). */
    private static final AtomicLong CHURN_SEQUENCE = new AtomicLong();
    private static final String CHURN_PREFIX = Long.toString(System.currentTimeMillis(), 36);

    /** One ZooKeeper session and its window of in-flight requests. */
    static final class Session implements AsyncCallback.DataCallback, AsyncCallback.StatCallback,
            AsyncCallback.StringCallback, AsyncCallback.VoidCallback {
        final ZooKeeper zk;
        final Semaphore window;
        final Histogram histogram = new Histogram();
        private final String[] paths;
        private final byte[] value;
        private final int readPct;
        private final boolean churn;
        private final String churnPrefix;
        // written only by this session's callback thread; read after the window is drained
        long ops;
        long errors;
        int firstError;

        private Session(ZooKeeper zk, Options opt, String[] paths, byte[] value) {
            this.zk = zk;
            this.window = new Semaphore(opt.outstanding);
            this.paths = paths;
            this.value = value;
            this.readPct = opt.readPct;
            this.churn = opt.workload.equals("churn");
            this.churnPrefix = opt.root + "/e" + CHURN_PREFIX + "-";
        }

        void refill() {
            while (running && window.tryAcquire()) {
                issue();
            }
        }

        private void issue() {
            ThreadLocalRandom rnd = ThreadLocalRandom.current();
            String path = paths[rnd.nextInt(paths.length)];
            Long startNs = System.nanoTime();
            if (churn) {
                zk.create(churnPrefix + CHURN_SEQUENCE.getAndIncrement(), value, ZooDefs.Ids.OPEN_ACL_UNSAFE,
                        CreateMode.EPHEMERAL, this, startNs);
            } else if (readPct >= 100 || (readPct > 0 && rnd.nextInt(100) < readPct)) {
                zk.getData(path, false, this, startNs);
            } else {
                zk.setData(path, value, -1, this, startNs);
            }
        }

        private void complete(int rc, Object ctx) {
            long latencyUs = (System.nanoTime() - (Long) ctx) / 1000L;
            boolean ok = rc == KeeperException.Code.OK.intValue();
            if (!ok) {
                errors++;
                if (firstError == 0) {
                    firstError = rc;
                }
            } else if (recording) {
                ops++;
                histogram.record(latencyUs);
            }
            if (ok && running) {
                issue();
            } else {
                window.release();
            }
        }

        @Override
        public void processResult(int rc, String path, Object ctx, byte[] data, Stat stat) {
            complete(rc, ctx);
        }

        @Override
        public void processResult(int rc, String path, Object ctx, Stat stat) {
            complete(rc, ctx);
        }

        /** churn: the create completed; the pair completes with the delete. */
        @Override
        public void processResult(int rc, String path, Object ctx, String name) {
            if (rc == KeeperException.Code.OK.intValue()) {
                zk.delete(path, -1, this, ctx);
            } else {
                complete(rc, ctx);
            }
        }

        @Override
        public void processResult(int rc, String path, Object ctx) {
            complete(rc, ctx);
        }

    }

    /**
     * `count` connected handles, numbered from `first` for the choice of server (see the top
     * comment). They connect in parallel; an exception when any session does not come up in
     * time (all handles are then closed).
     */
    static List<ZooKeeper> connectAll(Options opt, int first, int count) throws Exception {
        String[] hosts = opt.hosts();
        CountDownLatch connected = new CountDownLatch(count);
        Watcher watcher = event -> {
            if (event.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        };
        List<ZooKeeper> handles = new ArrayList<>();
        try {
            for (int i = first; i < first + count; i++) {
                handles.add(new ZooKeeper(hosts[i % hosts.length], SESSION_TIMEOUT_MS, onlyFirstConnect(watcher)));
            }
            long timeoutMs = CONNECT_TIMEOUT_MS + 20L * count;
            if (!connected.await(timeoutMs, TimeUnit.MILLISECONDS)) {
                throw new IllegalStateException(connected.getCount() + " of " + count + " sessions with "
                        + opt.connect + " not established after " + timeoutMs + " ms");
            }
        } catch (Exception e) {
            for (ZooKeeper zk : handles) {
                zk.close(1000);
            }
            throw e;
        }
        return handles;
    }

    /** Counts a handle's first SyncConnected only, so a reconnect cannot stand in for another session. */
    private static Watcher onlyFirstConnect(Watcher inner) {
        AtomicBoolean seen = new AtomicBoolean();
        return event -> {
            if (event.getState() == Watcher.Event.KeeperState.SyncConnected && seen.compareAndSet(false, true)) {
                inner.process(event);
            }
        };
    }

    /**
     * Closes every session, so the server does not expire them later, in another row's window.
     * The client's close() returns only after its send thread cleaned up, which takes a lock on
     * a JVM-wide object (a ZooKeeper.States constant) and sleeps 100 ms under it: closing many
     * handles one after the other, or from a pool, costs 100-200 ms each. So every close runs on
     * its own daemon thread, and this returns once every handle reports CLOSED, which it does as
     * soon as the server has answered its closeSession; the cleanup is left to the JVM's exit.
     */
    static void closeAll(List<ZooKeeper> handles) {
        for (ZooKeeper zk : handles) {
            Thread closer = new Thread(() -> close(zk), "close");
            closer.setDaemon(true);
            closer.start();
        }
        long deadline = System.nanoTime() + CLOSE_TIMEOUT_MS * 1_000_000L;
        try {
            while (System.nanoTime() < deadline && handles.stream().anyMatch(zk -> zk.getState().isAlive())) {
                Thread.sleep(CLOSE_POLL_MS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static void close(ZooKeeper zk) {
        try {
            zk.close(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Log-linear latency histogram in microseconds: exact below 128, then 64 buckets per power
     * of two (relative error under 1.6 %), up to 2^40 us.
     */
    static final class Histogram {
        private static final int SUB_BITS = 6;
        private static final int SUB_COUNT = 1 << SUB_BITS;
        private static final int LINEAR_LIMIT = SUB_COUNT * 2;
        private static final int MAX_SHIFT = 40;
        private final long[] counts = new long[LINEAR_LIMIT + MAX_SHIFT * SUB_COUNT];
        private long total;
        private long max;

        void record(long us) {
            long v = Math.max(0, us);
            counts[index(v)]++;
            total++;
            if (v > max) {
                max = v;
            }
        }

        void add(Histogram other) {
            for (int i = 0; i < counts.length; i++) {
                counts[i] += other.counts[i];
            }
            total += other.total;
            max = Math.max(max, other.max);
        }

        long max() {
            return max;
        }

        long percentile(double p) {
            if (total == 0) {
                return 0;
            }
            long rank = Math.max(1, (long) Math.ceil(p * total));
            long seen = 0;
            for (int i = 0; i < counts.length; i++) {
                seen += counts[i];
                if (seen >= rank) {
                    return Math.min(max, middle(i));
                }
            }
            return max;
        }

        private static int index(long v) {
            if (v < LINEAR_LIMIT) {
                return (int) v;
            }
            int shift = Math.min(MAX_SHIFT, 63 - Long.numberOfLeadingZeros(v) - SUB_BITS);
            long mantissa = Math.min((v >>> shift), 2L * SUB_COUNT - 1);
            return LINEAR_LIMIT + (shift - 1) * SUB_COUNT + (int) (mantissa - SUB_COUNT);
        }

        private static long middle(int index) {
            if (index < LINEAR_LIMIT) {
                return index;
            }
            int shift = (index - LINEAR_LIMIT) / SUB_COUNT + 1;
            long mantissa = (index - LINEAR_LIMIT) % SUB_COUNT + SUB_COUNT;
            return (mantissa << shift) + (1L << (shift - 1));
        }
    }

    /**
     * Server, generator and machine CPU over one measured window. Every clock is read once in
     * the constructor before the window starts: the first read loads classes (the management
     * bean behind the generator's own CPU time takes a while), and that time must not fall
     * between the machine's reading and the start of the window.
     */
    static final class Meter {
        private final CpuClock server;
        private final CpuClock machine;
        private final long serverStartNs;
        private final long machineStartNs;
        private final long clientStartNs;
        private final long startNs;

        Meter(Options opt) {
            server = new CpuClock(opt.serverPids, opt.clockTicksPerSecond);
            machine = new CpuClock(new long[0], opt.clockTicksPerSecond);
            machine.machineBusyNanos();
            server.nanos();
            CpuClock.selfNanos();
            startNs = System.nanoTime();
            machineStartNs = machine.machineBusyNanos();
            serverStartNs = server.nanos();
            clientStartNs = CpuClock.selfNanos();
        }

        /** Puts the CPU shares (% of one core) into result and returns the elapsed seconds. */
        double stop(Map<String, Object> result) {
            long clientNs = CpuClock.selfNanos() - clientStartNs;
            long serverEndNs = server.nanos();
            long machineEndNs = machine.machineBusyNanos();
            long elapsedNs = System.nanoTime() - startNs;
            result.put("client_cpu_pct", round(100.0 * clientNs / elapsedNs, 1));
            if (serverStartNs >= 0 && serverEndNs >= 0) {
                long serverNs = serverEndNs - serverStartNs;
                result.put("server_cpu_pct", round(100.0 * serverNs / elapsedNs, 1));
                if (machineStartNs >= 0 && machineEndNs >= 0) {
                    // whatever else ran on the machine meanwhile: it took CPU from both server and client
                    long otherNs = Math.max(0, machineEndNs - machineStartNs - serverNs - clientNs);
                    result.put("other_cpu_pct", round(100.0 * otherNs / elapsedNs, 1));
                }
            }
            return elapsedNs / 1e9;
        }
    }

    /**
     * CPU time from /proc: of a process (/proc/PID/stat utime + stime, all threads) or of the
     * whole machine (/proc/stat, every non-idle state summed over all CPUs).
     */
    static final class CpuClock {
        private final long[] pids;
        private final long ticksPerSecond;

        CpuClock(long[] pids, long ticksPerSecond) {
            this.pids = pids;
            this.ticksPerSecond = ticksPerSecond;
        }

        /** CPU of all the processes together; -1 without pids or once one of them is gone. */
        long nanos() {
            if (pids.length == 0) {
                return -1;
            }
            long ticks = 0;
            try {
                for (long pid : pids) {
                    String stat = Files.readString(Path.of("/proc/" + pid + "/stat"), StandardCharsets.US_ASCII);
                    // the command name may contain spaces; fields are counted after its closing parenthesis
                    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                    ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]);
                }
            } catch (Exception e) {
                return -1;
            }
            return ticks * 1_000_000_000L / ticksPerSecond;
        }

        long machineBusyNanos() {
            try {
                String first = Files.readAllLines(Path.of("/proc/stat"), StandardCharsets.US_ASCII).get(0);
                String[] f = first.trim().split("\\s+");
                // cpu user nice system idle iowait irq softirq steal ...; guest time is inside user
                long busy = 0;
                for (int i : new int[] {1, 2, 3, 6, 7, 8}) {
                    busy += Long.parseLong(f[i]);
                }
                return busy * 1_000_000_000L / ticksPerSecond;
            } catch (Exception e) {
                return -1;
            }
        }

        static long selfNanos() {
            java.lang.management.OperatingSystemMXBean os =
                    java.lang.management.ManagementFactory.getOperatingSystemMXBean();
            if (os instanceof com.sun.management.OperatingSystemMXBean) {
                return ((com.sun.management.OperatingSystemMXBean) os).getProcessCpuTime();
            }
            return -1;
        }
    }

    static final class Options {
        static final String USAGE = "usage: LoadGen --connect HOST:PORT[,HOST:PORT...]"
                + " [--workload read|write|mixed|churn|fanout|populate|touch]"
                + " [--read-pct 90] [--sessions 8] [--outstanding 100] [--value-size 1024]"
                + " [--znodes 1000] [--seconds 10] [--warmup 3] [--root /bench] [--fanout 1000]"
                + " [--watchers 1000] [--rounds 20] [--warmup-rounds 2]"
                + " [--server-pid PID[,PID...]] [--clock-ticks 100]\n"
                + "churn: create an ephemeral znode under root, then delete it (one op = the pair);\n"
                + "fanout: watchers sessions watch one znode, a writer changes it, rounds times;\n"
                + "populate: create root/PPPP/NNNNNNN, znodes leaves, fanout per parent (seconds is ignored);\n"
                + "touch: setData on random leaves of that tree until stdin closes or seconds pass";
        String connect;
        String workload = "read";
        int readPct = 90;
        int sessions = 8;
        int outstanding = 100;
        int valueSize = 1024;
        int znodes = 1000;
        int seconds = 10;
        int warmupSeconds = 3;
        String root = "/bench";
        int fanout = 1000;
        int watchers = 1000;
        int rounds = 20;
        int warmupRounds = 2;
        long[] serverPids = new long[0];
        long clockTicksPerSecond = 100;

        String[] hosts() {
            return connect.split(",");
        }

        static Options parse(String[] argv) {
            Map<String, String> kv = new HashMap<>();
            for (int i = 0; i < argv.length; i += 2) {
                if (!argv[i].startsWith("--") || i + 1 >= argv.length) {
                    throw new IllegalArgumentException("bad argument " + argv[i]);
                }
                kv.put(argv[i].substring(2), argv[i + 1]);
            }
            Options o = new Options();
            o.connect = take(kv, "connect", null);
            if (o.connect == null) {
                throw new IllegalArgumentException("--connect is required");
            }
            o.workload = take(kv, "workload", o.workload);
            o.readPct = Integer.parseInt(take(kv, "read-pct", "90"));
            o.sessions = Integer.parseInt(take(kv, "sessions", "8"));
            o.outstanding = Integer.parseInt(take(kv, "outstanding", "100"));
            o.valueSize = Integer.parseInt(take(kv, "value-size", "1024"));
            o.znodes = Integer.parseInt(take(kv, "znodes", "1000"));
            o.seconds = Integer.parseInt(take(kv, "seconds", "10"));
            o.warmupSeconds = Integer.parseInt(take(kv, "warmup", "3"));
            o.root = take(kv, "root", o.root);
            o.fanout = Integer.parseInt(take(kv, "fanout", "1000"));
            o.watchers = Integer.parseInt(take(kv, "watchers", "1000"));
            o.rounds = Integer.parseInt(take(kv, "rounds", "20"));
            o.warmupRounds = Integer.parseInt(take(kv, "warmup-rounds", "2"));
            String pids = take(kv, "server-pid", "");
            o.serverPids = pids.isEmpty() ? new long[0]
                    : Arrays.stream(pids.split(",")).mapToLong(Long::parseLong).toArray();
            o.clockTicksPerSecond = Long.parseLong(take(kv, "clock-ticks", "100"));
            if (!kv.isEmpty()) {
                throw new IllegalArgumentException("unknown options " + kv.keySet());
            }
            switch (o.workload) {
                case "read":
                    o.readPct = 100;
                    break;
                case "write":
                    o.readPct = 0;
                    break;
                case "mixed":
                    if (o.readPct < 0 || o.readPct > 100) {
                        throw new IllegalArgumentException("--read-pct must be 0..100");
                    }
                    break;
                case "churn":
                case "fanout":
                case "populate":
                case "touch":
                    o.readPct = 0;
                    break;
                default:
                    throw new IllegalArgumentException("unknown workload " + o.workload);
            }
            if (o.sessions < 1 || o.outstanding < 1 || o.znodes < 1 || o.seconds < 1 || o.warmupSeconds < 0
                    || o.fanout < 1 || o.watchers < 1 || o.rounds < 1 || o.warmupRounds < 0) {
                throw new IllegalArgumentException(
                        "sessions, outstanding, znodes, fanout, watchers, rounds and seconds must be positive");
            }
            return o;
        }

        boolean treeWorkload() {
            return workload.equals("populate") || workload.equals("touch");
        }

        private static String take(Map<String, String> kv, String key, String fallback) {
            String v = kv.remove(key);
            return v == null ? fallback : v;
        }
    }

    static double round(double v, int digits) {
        double scale = Math.pow(10, digits);
        return Math.round(v * scale) / scale;
    }

    static String toJson(Map<String, Object> m) {
        StringBuilder sb = new StringBuilder("{");
        for (Map.Entry<String, Object> e : m.entrySet()) {
            if (sb.length() > 1) {
                sb.append(", ");
            }
            sb.append('"').append(e.getKey()).append("\": ");
            Object v = e.getValue();
            if (v instanceof Number) {
                sb.append(String.format(Locale.ROOT, "%s", v));
            } else {
                String s = String.valueOf(v).replace("\\", "\\\\").replace("\"", "\\\"")
                        .replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t");
                sb.append('"').append(s).append('"');
            }
        }
        return sb.append('}').toString();
    }
}
