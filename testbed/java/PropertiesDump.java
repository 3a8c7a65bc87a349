// Reads each file given with java.util.Properties.load(InputStream), as the Strimzi HTTP Bridge's
// ConfigRetriever does, and prints one JSON object per file: the JDK's own parser, to check the Python port
// in tests/java_properties.py against.
import java.io.FileInputStream;
import java.io.InputStream;
import java.util.Properties;
import java.util.TreeMap;

public class PropertiesDump {
    static String quote(String s) {
        StringBuilder out = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') out.append('\\').append(c);
            else if (c < 0x20 || c > 0x7e) out.append(String.format("\\u%04x", (int) c));
            else out.append(c);
        }
        return out.append('"').toString();
    }

    public static void main(String[] files) throws Exception {
        for (String file : files) {
            Properties props = new Properties();
            try (InputStream in = new FileInputStream(file)) {
                props.load(in);
            }
            StringBuilder line = new StringBuilder("{");
            for (var entry : new TreeMap<>(props).entrySet()) {
                if (line.length() > 1) line.append(',');
                line.append(quote((String) entry.getKey())).append(':').append(quote((String) entry.getValue()));
            }
            System.out.println(line.append('}'));
        }
    }
}
