import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.apache.jute.BinaryInputArchive;
import org.apache.jute.BinaryOutputArchive;
import org.apache.jute.Record;

/**
 * Apache ZooKeeper's own Jute classes as an oracle for zkpy's codec (tests/jute).
 *
 * <p>Reads one command a line on stdin and answers each with exactly one line on stdout,
 * {@code <label> OK <result>} or {@code <label> ERR <exception>}:
 * <ul>
 * <li>{@code ENC <label> <value>}: builds the record described by {@code <value>} with the
 *     record's own setters (so zkpy's field names are checked too), serializes it with
 *     {@code BinaryOutputArchive} and answers the bytes in hex.</li>
 * <li>{@code DEC <label> <RecordName> <hex>}: deserializes the bytes with
 *     {@code BinaryInputArchive} and answers {@code <reserialized hex> <bytes consumed>}.</li>
 * <li>{@code STR <label> <hex>}: reads the bytes as one Jute ustring (length prefix included)
 *     and answers the UTF-16 code units of the result in hex ({@code NULL} for null).</li>
 * <li>{@code SIG <label> <RecordName>}: answers the record's Jute {@code signature()}.</li>
 * </ul>
 *
 * <p>A value is a whitespace-separated prefix notation: {@code N} (null), {@code I<int>},
 * {@code L<long>}, {@code Z0}/{@code Z1}, {@code B<hex>} (buffer), {@code S<UTF-16BE hex>}
 * (string), {@code V<count> <item>...} (vector), and {@code R<RecordName> <nfields>} followed by
 * {@code <fieldName> <value>} pairs. An empty hex is written {@code -} where it stands alone.
 * Record names are simple class names looked up in ZooKeeper's Jute packages.
 */
public final class JuteOracle {
    private static final String[] PACKAGES = {
        "org.apache.zookeeper.data.",
        "org.apache.zookeeper.proto.",
        "org.apache.zookeeper.txn.",
        "org.apache.zookeeper.server.quorum.",
        "org.apache.zookeeper.server.persistence.",
    };

    private final String[] tokens;
    private int next;

    private JuteOracle(String[] tokens, int first) {
        this.tokens = tokens;
        this.next = first;
    }

    public static void main(String[] args) throws IOException {
        BufferedReader in =
            new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.US_ASCII);
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isBlank()) {
                continue;
            }
            String[] tokens = line.trim().split("\\s+");
            String label = tokens.length > 1 ? tokens[1] : "?";
            try {
                out.println(label + " OK " + answer(tokens));
            } catch (Exception | StackOverflowError e) {
                Throwable cause = e.getCause() != null ? e.getCause() : e;
                out.println(label + " ERR " + cause.getClass().getSimpleName() + ": "
                    + String.valueOf(cause.getMessage()).replaceAll("\\s+", "_"));
            }
        }
        out.flush();
    }

    private static String answer(String[] tokens) throws Exception {
        switch (tokens[0]) {
            case "ENC": {
                JuteOracle parser = new JuteOracle(tokens, 2);
                Object value = parser.value();
                if (parser.next != tokens.length) {
                    throw new IllegalArgumentException("trailing tokens in value");
                }
                if (!(value instanceof Record)) {
                    throw new IllegalArgumentException("ENC needs a record value");
                }
                return hex(serialize((Record) value));
            }
            case "DEC": {
                Record record = newRecord(tokens[2]);
                byte[] data = unhex(tokens[3]);
                ByteArrayInputStream stream = new ByteArrayInputStream(data);
                record.deserialize(BinaryInputArchive.getArchive(stream), "record");
                return hex(serialize(record)) + " " + (data.length - stream.available());
            }
            case "STR": {
                byte[] data = unhex(tokens[2]);
                ByteArrayInputStream stream = new ByteArrayInputStream(data);
                String s = BinaryInputArchive.getArchive(stream).readString("s");
                return s == null ? "NULL" : hex(s.getBytes(StandardCharsets.UTF_16BE));
            }
            case "SIG":
                return (String) recordClass(tokens[2]).getMethod("signature").invoke(null);
            default:
                throw new IllegalArgumentException("unknown command " + tokens[0]);
        }
    }

    private Object value() throws Exception {
        String token = tokens[next++];
        String body = token.substring(1);
        switch (token.charAt(0)) {
            case 'N':
                return null;
            case 'I':
                return Integer.parseInt(body);
            case 'L':
                return Long.parseLong(body);
            case 'Z':
                return body.equals("1");
            case 'B':
                return unhex(body);
            case 'S':
                return new String(unhex(body), StandardCharsets.UTF_16BE);
            case 'V': {
                int count = Integer.parseInt(body);
                List<Object> items = new ArrayList<>(count);
                for (int i = 0; i < count; i++) {
                    items.add(value());
                }
                return items;
            }
            case 'R': {
                Record record = newRecord(body);
                int fields = Integer.parseInt(tokens[next++]);
                for (int i = 0; i < fields; i++) {
                    String field = tokens[next++];
                    Method setter = setter(record.getClass(), field);
                    Object value = value();
                    checkType(setter, value);
                    setter.invoke(record, value);
                }
                return record;
            }
            default:
                throw new IllegalArgumentException("bad value token " + token);
        }
    }

    private static Method setter(Class<?> cls, String field) {
        String name = "set" + Character.toUpperCase(field.charAt(0)) + field.substring(1);
        for (Method method : cls.getMethods()) {
            if (method.getName().equals(name) && method.getParameterCount() == 1) {
                return method;
            }
        }
        throw new IllegalArgumentException(cls.getSimpleName() + " has no field " + field);
    }

    /** Rejects what reflection would silently widen, such as an int given for a long field. */
    private static void checkType(Method setter, Object value) {
        Class<?> type = setter.getParameterTypes()[0];
        Class<?> expected = type == int.class ? Integer.class
            : type == long.class ? Long.class
            : type == boolean.class ? Boolean.class
            : type;
        if (value == null ? type.isPrimitive() : !expected.isInstance(value)) {
            throw new IllegalArgumentException(setter.getName() + " takes " + type.getSimpleName()
                + ", not " + (value == null ? "null" : value.getClass().getSimpleName()));
        }
    }

    private static Class<?> recordClass(String simpleName) throws ClassNotFoundException {
        for (String pkg : PACKAGES) {
            try {
                Class<?> cls = Class.forName(pkg + simpleName);
                if (Record.class.isAssignableFrom(cls)) {
                    return cls;
                }
            } catch (ClassNotFoundException e) {
                // try the next package
            }
        }
        throw new ClassNotFoundException("no Jute record named " + simpleName);
    }

    private static Record newRecord(String simpleName) throws Exception {
        return (Record) recordClass(simpleName).getConstructor().newInstance();
    }

    private static byte[] serialize(Record record) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        record.serialize(BinaryOutputArchive.getArchive(bytes), "record");
        return bytes.toByteArray();
    }

    private static String hex(byte[] data) {
        if (data.length == 0) {
            return "-";
        }
        StringBuilder sb = new StringBuilder(data.length * 2);
        for (byte b : data) {
            sb.append(Character.forDigit((b >> 4) & 0xf, 16));
            sb.append(Character.forDigit(b & 0xf, 16));
        }
        return sb.toString();
    }

    private static byte[] unhex(String text) {
        if (text.equals("-")) {
            return new byte[0];
        }
        if (text.length() % 2 != 0) {
            throw new IllegalArgumentException("odd-length hex");
        }
        byte[] data = new byte[text.length() / 2];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) Integer.parseInt(text.substring(2 * i, 2 * i + 2), 16);
        }
        return data;
    }
}
