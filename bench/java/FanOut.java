/*
 * FanOut: LoadGen's `fanout` workload, one znode watched by many sessions and then changed.
 *
 * Theory of operation: `watchers` sessions (spread over the servers like LoadGen's sessions, all
 * connecting in parallel; the stock client runs two threads per handle) and one writer session
 * on the first server. The writer creates root/fanout. Each round, every watcher sets a data watch
 * with an async exists(path, watcher); once every reply has arrived (a server registers the watch
 * before it answers), the writer issues setData and notes the time, and every watcher notes when
 * its NodeDataChanged event reaches it (in the client's event thread, where an application would
 * see it). A round's fan-out time runs from issuing the setData to the last watcher's event; the
 * first event and the setData reply are recorded as well. `warmup-rounds` unrecorded rounds come
 * first. A watcher that gets no event within ROUND_TIMEOUT_MS fails the run: a lost watch is a
 * server bug, not a slow round.
 *
 * Output (via LoadGen's JSON line): percentiles over the recorded rounds, exact (nearest rank;
 * with 20 rounds p99 is the slowest round), `p50_us`/`p99_us` being the fan-out time, and the CPU
 * of server, generator and everything else during the recorded rounds.
 */

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.zookeeper.AsyncCallback;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;

final class FanOut {
    private static final long ROUND_TIMEOUT_MS = 30_000;

    private final String path;
    private final ZooKeeper writer;
    private final List<Watch> watches = new ArrayList<>();
    private final byte[] value;
    private volatile Round current;

    private FanOut(LoadGen.Options opt, ZooKeeper writer, List<ZooKeeper> watchers) {
        this.path = opt.root + "/fanout";
        this.writer = writer;
        for (int i = 0; i < watchers.size(); i++) {
            watches.add(new Watch(i, watchers.get(i)));
        }
        this.value = new byte[opt.valueSize];
        new Random(42).nextBytes(value);
    }

    static void run(LoadGen.Options opt, List<ZooKeeper> handles, Map<String, Object> result) throws Exception {
        result.put("watchers", opt.watchers);
        result.put("rounds", opt.rounds);
        long connectStartNs = System.nanoTime();
        handles.addAll(LoadGen.connectAll(opt, 0, 1));
        handles.addAll(LoadGen.connectAll(opt, 1, opt.watchers));
        result.put("connect_s", LoadGen.round((System.nanoTime() - connectStartNs) / 1e9, 2));
        FanOut fanOut = new FanOut(opt, handles.get(0), handles.subList(1, handles.size()));
        LoadGen.createIfMissing(fanOut.writer, opt.root);
        LoadGen.createIfMissing(fanOut.writer, fanOut.path);
        fanOut.syncAll();

        for (int r = 0; r < opt.warmupRounds; r++) {
            fanOut.round(r);
        }
        LoadGen.Meter meter = new LoadGen.Meter(opt);
        long[] fanOutUs = new long[opt.rounds];
        long[] firstUs = new long[opt.rounds];
        long[] setDataUs = new long[opt.rounds];
        long[] armUs = new long[opt.rounds];
        for (int r = 0; r < opt.rounds; r++) {
            Round round = fanOut.round(opt.warmupRounds + r);
            fanOutUs[r] = round.lastUs();
            firstUs[r] = round.firstUs();
            setDataUs[r] = round.setDataUs;
            armUs[r] = round.armUs;
        }
        double seconds = meter.stop(result);
        result.put("seconds", LoadGen.round(seconds, 3));
        result.put("p50_us", percentile(fanOutUs, 0.50));
        result.put("p99_us", percentile(fanOutUs, 0.99));
        result.put("max_us", percentile(fanOutUs, 1.0));
        result.put("first_p50_us", percentile(firstUs, 0.50));
        result.put("set_data_p50_us", percentile(setDataUs, 0.50));
        result.put("arm_p50_us", percentile(armUs, 0.50));
        result.put("errors", 0);
    }

    /** Makes every watcher's server catch up with the create of the znode (ensembles). */
    private void syncAll() throws Exception {
        CountDownLatch synced = new CountDownLatch(watches.size());
        AtomicInteger failed = new AtomicInteger();
        for (Watch w : watches) {
            w.zk.sync(path, (rc, p, ctx) -> {
                if (rc != KeeperException.Code.OK.intValue()) {
                    failed.incrementAndGet();
                }
                synced.countDown();
            }, null);
        }
        if (!synced.await(ROUND_TIMEOUT_MS, TimeUnit.MILLISECONDS) || failed.get() > 0) {
            throw new IllegalStateException("sync of " + path + " failed or timed out for "
                    + (synced.getCount() + failed.get()) + " watchers");
        }
    }

    /** Arms every watch, changes the znode, waits for every event. */
    private Round round(int number) throws Exception {
        Round round = new Round(number, watches.size());
        current = round;
        long armStartNs = System.nanoTime();
        for (Watch w : watches) {
            w.zk.exists(path, w, w, round);
        }
        if (!round.armed.await(ROUND_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
            throw new IllegalStateException("round " + number + ": " + round.armed.getCount() + " of "
                    + watches.size() + " watches not set after " + ROUND_TIMEOUT_MS + " ms");
        }
        if (round.armErrors.get() > 0) {
            throw new IllegalStateException("round " + number + ": " + round.armErrors.get()
                    + " exists calls failed, first with " + KeeperException.Code.get(round.firstArmError));
        }
        round.armUs = (System.nanoTime() - armStartNs) / 1000L;
        CountDownLatch written = new CountDownLatch(1);
        int[] setRc = {0};
        round.startNs = System.nanoTime();
        writer.setData(path, value, -1, (AsyncCallback.StatCallback) (rc, p, ctx, stat) -> {
            setRc[0] = rc;
            round.setDataUs = (System.nanoTime() - round.startNs) / 1000L;
            written.countDown();
        }, null);
        boolean notified = round.notified.await(ROUND_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        if (!written.await(ROUND_TIMEOUT_MS, TimeUnit.MILLISECONDS) || setRc[0] != KeeperException.Code.OK.intValue()) {
            throw new IllegalStateException("round " + number + ": setData failed with "
                    + KeeperException.Code.get(setRc[0]));
        }
        if (!notified) {
            throw new IllegalStateException("round " + number + ": " + round.notified.getCount() + " of "
                    + watches.size() + " watchers got no NodeDataChanged within " + ROUND_TIMEOUT_MS + " ms");
        }
        return round;
    }

    static long percentile(long[] values, double p) {
        long[] sorted = values.clone();
        Arrays.sort(sorted);
        int rank = Math.max(1, (int) Math.ceil(p * sorted.length));
        return sorted[rank - 1];
    }

    /** One round's arrivals; written by the watchers' event threads, read after the latches. */
    static final class Round {
        final int number;
        final long[] arrivalNs;
        final CountDownLatch armed;
        final CountDownLatch notified;
        final AtomicInteger armErrors = new AtomicInteger();
        volatile int firstArmError;
        volatile long startNs;
        volatile long setDataUs;
        long armUs;

        Round(int number, int watchers) {
            this.number = number;
            this.arrivalNs = new long[watchers];
            this.armed = new CountDownLatch(watchers);
            this.notified = new CountDownLatch(watchers);
        }

        long lastUs() {
            return (Arrays.stream(arrivalNs).max().orElse(startNs) - startNs) / 1000L;
        }

        long firstUs() {
            return (Arrays.stream(arrivalNs).min().orElse(startNs) - startNs) / 1000L;
        }
    }

    /** One watcher session: its exists callback and its watch. */
    final class Watch implements Watcher, AsyncCallback.StatCallback {
        final int index;
        final ZooKeeper zk;

        Watch(int index, ZooKeeper zk) {
            this.index = index;
            this.zk = zk;
        }

        @Override
        public void process(WatchedEvent event) {
            long nowNs = System.nanoTime();
            Round round = current;
            if (event.getType() == Event.EventType.NodeDataChanged && round.arrivalNs[index] == 0) {
                round.arrivalNs[index] = nowNs;
                round.notified.countDown();
            }
        }

        @Override
        public void processResult(int rc, String p, Object ctx, Stat stat) {
            Round round = (Round) ctx;
            if (rc != KeeperException.Code.OK.intValue()) {
                round.firstArmError = rc;
                round.armErrors.incrementAndGet();
            }
            round.armed.countDown();
        }
    }
}
