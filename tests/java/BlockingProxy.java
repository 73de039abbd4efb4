import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.HashSet;
import java.util.Set;

/**
 * A loopback TCP proxy in front of the server that can cut a client off on demand.
 *
 * The Java client gives no way to pause a live session, so the scenario connects the sessions it
 * wants to disconnect through this proxy. block() closes every proxied connection and refuses new
 * ones (they are accepted and closed at once, so the client just keeps retrying); unblock() lets
 * the next attempt through. While blocked the server sees no traffic from the session, which is
 * how the scenario makes a session expire for real or lets other sessions change the tree while
 * a client is away.
 */
final class BlockingProxy implements Closeable {
    private static final int UPSTREAM_CONNECT_TIMEOUT_MS = 5_000;

    private final InetSocketAddress upstream;
    private final ServerSocket listener;
    private final Set<Socket> live = new HashSet<>();
    private boolean blocked;

    BlockingProxy(String upstreamHost, int upstreamPort) throws IOException {
        upstream = new InetSocketAddress(upstreamHost, upstreamPort);
        listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread acceptor = new Thread(this::acceptLoop, "proxy-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    String address() {
        return "127.0.0.1:" + listener.getLocalPort();
    }

    synchronized void block() {
        blocked = true;
        for (Socket socket : live) {
            closeQuietly(socket);
        }
        live.clear();
    }

    synchronized void unblock() {
        blocked = false;
    }

    @Override
    public void close() {
        block();
        closeQuietly(listener);
    }

    private void acceptLoop() {
        while (!listener.isClosed()) {
            Socket client;
            try {
                client = listener.accept();
            } catch (IOException e) {
                return;
            }
            try {
                open(client);
            } catch (IOException e) {
                closeQuietly(client);
            }
        }
    }

    private synchronized void open(Socket client) throws IOException {
        if (blocked) {
            closeQuietly(client);
            return;
        }
        Socket server = new Socket();
        server.setTcpNoDelay(true);
        server.connect(upstream, UPSTREAM_CONNECT_TIMEOUT_MS);
        client.setTcpNoDelay(true);
        live.add(client);
        live.add(server);
        pump(client, server);
        pump(server, client);
    }

    private void pump(Socket from, Socket to) {
        Thread pumper = new Thread(() -> {
            byte[] buffer = new byte[65536];
            try (InputStream in = from.getInputStream(); OutputStream outStream = to.getOutputStream()) {
                int n;
                while ((n = in.read(buffer)) >= 0) {
                    outStream.write(buffer, 0, n);
                    outStream.flush();
                }
            } catch (IOException e) {
                // the other direction or block() closed the pair; nothing left to do
            } finally {
                closeQuietly(from);
                closeQuietly(to);
            }
        }, "proxy-pump");
        pumper.setDaemon(true);
        pumper.start();
    }

    private static void closeQuietly(Closeable closeable) {
        try {
            closeable.close();
        } catch (IOException e) {
            // closing is best effort
        }
    }
}
