/*
 * TreeLoad: the `populate` and `touch` workloads of LoadGen, for the durability benchmark.
 *
 * Theory of operation: the tree is root/PPPP/NNNNNNN, `znodes` leaves spread over parents of
 * `fanout` children each, so no getChildren is huge; leaf i lives under parent i / fanout and its
 * value is `value-size` bytes. `populate` first creates the root and every parent, then all
 * leaves, as fast as the stock Java client allows: every session keeps `outstanding` async
 * creates in flight, taking the next leaf index from one shared counter, with the same permit
 * hand-over as LoadGen's sessions (a completion issues the next create itself; a failure gives
 * its permit back and the main thread refills every 100 ms). NODEEXISTS counts as done, so a
 * populate can be repeated. `touch` does setData on random leaves until its stdin reaches EOF or
 * `seconds` pass: the benchmark uses it to push a server past snapCount and closes stdin once a
 * snapshot of the full tree has started.
 *
 * Both print one JSON line (via LoadGen): counts, seconds, rate, errors and the CPU used by the
 * server, the generator and everything else meanwhile.
 */

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.zookeeper.AsyncCallback;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;

final class TreeLoad {
    private static final long REFILL_INTERVAL_MS = 100;
    /** A populate or touch with no completion for this long has stalled. */
    private static final long STALL_TIMEOUT_MS = 60_000;
    private static final long DRAIN_TIMEOUT_MS = 30_000;

    private final LoadGen.Options opt;
    private final Layout layout;
    private final byte[] value;

    private TreeLoad(LoadGen.Options opt) {
        this.opt = opt;
        this.layout = new Layout(opt.root, opt.znodes, opt.fanout);
        this.value = new byte[opt.valueSize];
        new Random(42).nextBytes(value);
    }

    static void run(LoadGen.Options opt, List<ZooKeeper> handles, Map<String, Object> result) throws Exception {
        result.put("fanout", opt.fanout);
        result.put("root", opt.root);
        TreeLoad load = new TreeLoad(opt);
        handles.addAll(LoadGen.connectAll(opt, 0, opt.sessions));
        if (opt.workload.equals("populate")) {
            load.populate(handles, result);
        } else {
            load.touch(handles, result);
        }
    }

    private void populate(List<ZooKeeper> handles, Map<String, Object> result) throws Exception {
        LoadGen.Meter meter = new LoadGen.Meter(opt);
        Phase top = new Phase(handles.subList(0, 1), opt.outstanding, 1, (zk, i, cb) ->
                zk.create(opt.root, new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT, cb, null));
        top.runToEnd();
        Phase parents = new Phase(handles, opt.outstanding, layout.parents, (zk, i, cb) ->
                zk.create(layout.parent((int) i), new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE,
                        CreateMode.PERSISTENT, cb, null));
        parents.runToEnd();
        Phase leaves = new Phase(handles, opt.outstanding, layout.leaves, (zk, i, cb) ->
                zk.create(layout.leaf(i), value, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT, cb, null));
        leaves.runToEnd();
        double seconds = meter.stop(result);
        long done = top.ok.get() + parents.ok.get() + leaves.ok.get();
        long existed = top.existed.get() + parents.existed.get() + leaves.existed.get();
        long errors = top.failed.get() + parents.failed.get() + leaves.failed.get();
        result.put("created", done);
        result.put("existed", existed);
        result.put("errors", errors);
        result.put("parents", layout.parents);
        result.put("seconds", LoadGen.round(seconds, 3));
        result.put("creates_per_s", LoadGen.round((done + existed) / seconds, 1));
        if (errors > 0) {
            result.put("first_error", KeeperException.Code.get(firstError(top, parents, leaves)).toString());
        }
    }

    private void touch(List<ZooKeeper> handles, Map<String, Object> result) throws Exception {
        LoadGen.Meter meter = new LoadGen.Meter(opt);
        Phase phase = new Phase(handles, opt.outstanding, Long.MAX_VALUE, (zk, i, cb) ->
                zk.setData(layout.leaf(ThreadLocalRandom.current().nextLong(layout.leaves)), value, -1, cb, null));
        Thread stdinWatcher = new Thread(() -> {
            drain(System.in);
            phase.stop();
        }, "stdin-eof");
        stdinWatcher.setDaemon(true);
        stdinWatcher.start();
        phase.runUntil(System.nanoTime() + opt.seconds * 1_000_000_000L);
        double seconds = meter.stop(result);
        result.put("ops", phase.ok.get());
        result.put("errors", phase.failed.get());
        result.put("seconds", LoadGen.round(seconds, 3));
        result.put("ops_per_s", LoadGen.round(phase.ok.get() / seconds, 1));
    }

    private static void drain(InputStream in) {
        byte[] buffer = new byte[256];
        try {
            while (in.read(buffer) >= 0) {
                // only the end of the stream matters
            }
        } catch (IOException e) {
            // a broken stdin ends the touch just like EOF
        }
    }

    private static int firstError(Phase... phases) {
        for (Phase p : phases) {
            if (p.firstError.get() != 0) {
                return (int) p.firstError.get();
            }
        }
        return 0;
    }

    /** Paths of the tree: parents root/PPPP, leaves root/PPPP/NNNNNNN (widths fit the counts). */
    static final class Layout {
        final String root;
        final long leaves;
        final int fanout;
        final int parents;
        private final String parentFormat;
        private final String leafFormat;

        Layout(String root, long leaves, int fanout) {
            this.root = root;
            this.leaves = leaves;
            this.fanout = fanout;
            this.parents = (int) ((leaves + fanout - 1) / fanout);
            this.parentFormat = "%0" + Long.toString(Math.max(parents - 1, 1)).length() + "d";
            this.leafFormat = "%0" + Long.toString(Math.max(leaves - 1, 1)).length() + "d";
        }

        String parent(int p) {
            return root + "/" + String.format(parentFormat, p);
        }

        String leaf(long i) {
            return parent((int) (i / fanout)) + "/" + String.format(leafFormat, i);
        }
    }

    interface Request {
        void issue(ZooKeeper zk, long index, Callback cb);
    }

    /** The completion of one request: hands its permit to the next request of its session. */
    static final class Callback implements AsyncCallback.StringCallback, AsyncCallback.StatCallback {
        private final Phase phase;
        private final ZooKeeper zk;
        private final Semaphore window;

        Callback(Phase phase, ZooKeeper zk, Semaphore window) {
            this.phase = phase;
            this.zk = zk;
            this.window = window;
        }

        @Override
        public void processResult(int rc, String path, Object ctx, String name) {
            complete(rc);
        }

        @Override
        public void processResult(int rc, String path, Object ctx, Stat stat) {
            complete(rc);
        }

        private void complete(int rc) {
            phase.lastCompletionNs = System.nanoTime();
            if (rc == KeeperException.Code.OK.intValue()) {
                phase.ok.incrementAndGet();
            } else if (rc == KeeperException.Code.NODEEXISTS.intValue()) {
                phase.existed.incrementAndGet();
            } else {
                phase.failed.incrementAndGet();
                phase.firstError.compareAndSet(0, rc);
                window.release();
                return;
            }
            if (!phase.issueNext(zk, this)) {
                window.release();
            }
        }
    }

    /** `count` requests (or until stopped) over every handle, each with a window of permits. */
    static final class Phase {
        final AtomicLong ok = new AtomicLong();
        final AtomicLong existed = new AtomicLong();
        final AtomicLong failed = new AtomicLong();
        final AtomicLong firstError = new AtomicLong();
        volatile long lastCompletionNs = System.nanoTime();
        private final AtomicLong next = new AtomicLong();
        private final long count;
        private final int outstanding;
        private final Request request;
        private final List<ZooKeeper> handles;
        private final List<Semaphore> windows = new ArrayList<>();
        private final List<Callback> callbacks = new ArrayList<>();
        private volatile boolean stopped = false;

        Phase(List<ZooKeeper> handles, int outstanding, long count, Request request) {
            this.handles = handles;
            this.outstanding = outstanding;
            this.count = count;
            this.request = request;
            for (ZooKeeper zk : handles) {
                Semaphore window = new Semaphore(outstanding);
                windows.add(window);
                callbacks.add(new Callback(this, zk, window));
            }
        }

        void stop() {
            stopped = true;
        }

        /** Issues the next request if there is one; false when the phase is over. */
        boolean issueNext(ZooKeeper zk, Callback cb) {
            if (stopped) {
                return false;
            }
            long index = next.getAndIncrement();
            if (index >= count) {
                return false;
            }
            request.issue(zk, index, cb);
            return true;
        }

        private boolean exhausted() {
            return stopped || next.get() >= count;
        }

        private void refill() {
            for (int s = 0; s < handles.size(); s++) {
                Semaphore window = windows.get(s);
                while (!exhausted() && window.tryAcquire()) {
                    if (!issueNext(handles.get(s), callbacks.get(s))) {
                        window.release();
                    }
                }
            }
        }

        void runToEnd() throws InterruptedException {
            runUntil(Long.MAX_VALUE);
        }

        /** Keeps every window full until the phase is exhausted or deadlineNs, then drains. */
        void runUntil(long deadlineNs) throws InterruptedException {
            lastCompletionNs = System.nanoTime();
            while (!exhausted() && System.nanoTime() < deadlineNs) {
                refill();
                Thread.sleep(REFILL_INTERVAL_MS);
                if (System.nanoTime() - lastCompletionNs > STALL_TIMEOUT_MS * 1_000_000L) {
                    stop();
                    throw new IllegalStateException("no completion for " + STALL_TIMEOUT_MS + " ms after "
                            + (ok.get() + existed.get()) + " requests");
                }
            }
            stop();
            for (Semaphore window : windows) {
                if (!window.tryAcquire(outstanding, DRAIN_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
                    throw new IllegalStateException("requests still outstanding " + DRAIN_TIMEOUT_MS
                            + " ms after the phase ended");
                }
                window.release(outstanding);
            }
        }
    }
}
