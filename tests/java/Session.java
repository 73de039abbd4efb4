import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;

/**
 * One ZooKeeper handle with a label and a queue of the watch events it has received.
 *
 * Events are only queued by the client's event thread; the scenario decides when to print them,
 * so their place in the transcript does not depend on thread timing:
 * - flush() sends a read and waits for its callback. The client delivers events and callbacks in
 *   the order the server sent them, and the server sends a notification before the reply to any
 *   later request, so once the callback has run every event caused by earlier steps (of any
 *   session) is in the queue.
 * - awaitEvent() waits for a client-generated state change (Disconnected, Expired, Closed), which
 *   no server reply can order.
 * A client that cannot reach its server queues one Disconnected per failed attempt; consecutive
 * repeats are printed once. Nothing is printed after Expired or Closed, because whether the
 * client still delivers a late event then is a race inside the client.
 */
final class Session implements Watcher {
    private static final long BARRIER_TIMEOUT_MS = 10_000;

    final String label;
    final ZooKeeper zk;
    private final Transcript out;
    private final LinkedBlockingQueue<String> events = new LinkedBlockingQueue<>();
    private String lastPrinted = "";
    private boolean ended;

    Session(String label, Transcript out, String connectString, int sessionTimeoutMs) throws IOException {
        this.label = label;
        this.out = out;
        this.zk = new ZooKeeper(connectString, sessionTimeoutMs, this);
    }

    Session(String label, Transcript out, String connectString, int sessionTimeoutMs, long sessionId,
            byte[] password) throws IOException {
        this.label = label;
        this.out = out;
        this.zk = new ZooKeeper(connectString, sessionTimeoutMs, this, sessionId, password);
    }

    @Override
    public void process(WatchedEvent event) {
        record("default", event);
    }

    /** A watcher other than the default one; its events are tagged with its name. */
    Watcher watcher(String name) {
        return event -> record(name, event);
    }

    private void record(String watcherName, WatchedEvent event) {
        events.add(event.getType() + " " + event.getState() + " " + event.getPath() + " (" + watcherName + ")");
    }

    long id() {
        return zk.getSessionId();
    }

    /** Prints every event that the server sent before this call. */
    void flush() {
        CompletableFuture<Integer> done = new CompletableFuture<>();
        zk.exists("/", false, (rc, path, ctx, stat) -> done.complete(rc), null);
        try {
            done.get(BARRIER_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            out.line("  " + label + " TIMEOUT waiting for barrier");
        } catch (Exception e) {
            out.line("  " + label + " barrier failed: " + e);
        }
        drain();
    }

    /** Prints events until one starting with prefix ("None Expired") has been printed. */
    boolean awaitEvent(String prefix, long timeoutMs) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (true) {
            long leftNs = deadline - System.nanoTime();
            String event;
            try {
                event = leftNs > 0 ? events.poll(leftNs, TimeUnit.NANOSECONDS) : null;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                event = null;
            }
            if (event == null) {
                out.line("  " + label + " TIMEOUT waiting for event " + prefix);
                return false;
            }
            print(event);
            if (event.startsWith(prefix)) {
                return true;
            }
        }
    }

    /** Prints whatever is queued now, without waiting. */
    void drain() {
        String event;
        while ((event = events.poll()) != null) {
            print(event);
        }
    }

    private void print(String event) {
        if (ended || (event.equals(lastPrinted) && event.startsWith("None Disconnected"))) {
            return;
        }
        lastPrinted = event;
        out.line("  " + label + " event " + event);
        ended = event.startsWith("None Expired") || event.startsWith("None Closed");
    }
}
