package org.apache.zookeeper.server.quorum;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.InputStreamReader;
import java.io.StringReader;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.Properties;
import java.util.stream.Collectors;
import org.apache.zookeeper.server.quorum.flexible.QuorumMaj;

/**
 * Apache ZooKeeper's own election classes as an oracle for zkpy's tests.
 *
 * Reads one command per line on stdin and answers one line "label OK answer" or
 * "label ERR message" on stdout:
 *   MSG label state leader zxid electionEpoch peerEpoch configHex  -> hex of FastLeaderElection.buildMsg
 *   QV label propertiesHex                                          -> hex of new QuorumMaj(props).toString()
 *   HS label handshakeHex                                            -> sid and addresses InitialMessage.parse accepts
 * Lives in ZooKeeper's package because buildMsg is package-private.
 */
public final class ElectionOracle {

    private static final HexFormat HEX = HexFormat.of();

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isBlank()) {
                continue;
            }
            String[] t = line.split(" ");
            String label = t[1];
            try {
                System.out.println(label + " OK " + answer(t));
            } catch (Exception e) {
                System.out.println(label + " ERR " + String.valueOf(e.getMessage()).replace('\n', ' '));
            }
        }
    }

    private static byte[] bytes(String hex) {
        return hex.equals("-") ? new byte[0] : HEX.parseHex(hex);
    }

    private static String answer(String[] t) throws Exception {
        switch (t[0]) {
        case "MSG": {
            ByteBuffer b = FastLeaderElection.buildMsg(Integer.parseInt(t[2]), Long.parseLong(t[3]),
                Long.parseLong(t[4]), Long.parseLong(t[5]), Long.parseLong(t[6]), bytes(t[7]));
            return HEX.formatHex(b.array());
        }
        case "QV": {
            Properties props = new Properties();
            props.load(new StringReader(new String(bytes(t[2]), StandardCharsets.UTF_8)));
            return HEX.formatHex(new QuorumMaj(props).toString().getBytes(StandardCharsets.UTF_8));
        }
        case "HS": {
            DataInputStream din = new DataInputStream(new ByteArrayInputStream(bytes(t[2])));
            long protocolVersion = din.readLong();
            QuorumCnxManager.InitialMessage m = QuorumCnxManager.InitialMessage.parse(protocolVersion, din);
            return m.sid + " " + m.electionAddr.stream()
                .map(a -> a.getHostString() + ":" + a.getPort())
                .collect(Collectors.joining("|"));
        }
        default:
            throw new IllegalArgumentException("unknown command " + t[0]);
        }
    }

    private ElectionOracle() {
    }
}
