// TEST DOUBLE: stands in for the Strimzi HTTP Bridge's HTTP layer and nothing more; the Kafka side is real kafka-clients.
//
// What is real here: the bridge 1.1.0's way of reading its properties file (java.util.Properties, then the process
// environment on top, as ConfigRetriever does), its BridgeConfig defaults, and its split of the `kafka.*` keys into
// per-client configurations (KafkaConfig / KafkaProducerConfig / KafkaConsumerConfig / KafkaAdminConfig): every
// `kafka.*` key that is not `kafka.producer.*`, `kafka.consumer.*` or `kafka.admin.*` goes, prefix stripped, to
// every client, and each client-specific key, prefix stripped, to that client only, on top. Config providers and
// PEM file references are left for Kafka to resolve, exactly as in the bridge. What is NOT here: HTTP, JSON
// embedded formats, tracing (bridge.tracing is reported, not applied).
//
// Run (Java 17+, single-file launcher):
//   java -cp '<kafka libs>/*' BridgeKafkaSide.java --config-file=<application.properties> <op> [args...]
// ops:
//   config                                       per-client effective keys (secret values hidden) as JSON
//   produce <topic> <value>...                   one record per value (UTF-8), acks as configured
//   consume <topic> <group> <count> <timeoutMs> [key=value...]
//                                                subscribe in <group>, poll until <count> records or timeout; the
//                                                key=value pairs are what an app may pass when it creates a bridge
//                                                consumer over HTTP (only the keys the bridge accepts there)
//   list-topics                                  the admin client's listTopics (the bridge's GET /topics)
// Output: one JSON line on stdout. Failure: {"ok": false, "error": {"class", "message"}} and exit code 2
// (3: timed out with fewer records than asked; 64: usage).

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class BridgeKafkaSide {
    // Prefixes, as in the bridge's KafkaConfig / KafkaProducerConfig / KafkaConsumerConfig / KafkaAdminConfig.
    static final String KAFKA = "kafka.";
    static final String PRODUCER = KAFKA + "producer.";
    static final String CONSUMER = KAFKA + "consumer.";
    static final String ADMIN = KAFKA + "admin.";

    // The consumer settings an app may pass when creating a consumer over HTTP (HttpSinkBridgeEndpoint, 1.1.0).
    static final Set<String> HTTP_CONSUMER_KEYS = Set.of(
            ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG,
            ConsumerConfig.FETCH_MIN_BYTES_CONFIG, ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG,
            ConsumerConfig.ISOLATION_LEVEL_CONFIG);

    static final ObjectMapper JSON = new ObjectMapper();
    static final PrintStream OUT = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    static final List<String> NOTES = new ArrayList<>();

    public static void main(String[] args) {
        String configFile = null;
        List<String> rest = new ArrayList<>();
        for (String a : args) {
            if (a.startsWith("--config-file=")) {
                configFile = a.substring("--config-file=".length());
            } else {
                rest.add(a);
            }
        }
        if (configFile == null || rest.isEmpty()) {
            usage("missing --config-file=<path> or operation");
        }
        String op = rest.get(0);
        List<String> opArgs = rest.subList(1, rest.size());
        ObjectNode answer = JSON.createObjectNode();
        answer.put("op", op);
        int exit = 0;
        try {
            Map<String, Object> config = loadConfig(configFile);
            applyBridgeDefaults(config);
            Map<String, Object> common = common(config);
            switch (op) {
                case "config" -> describe(config, common, answer);
                case "produce" -> {
                    if (opArgs.size() < 2) {
                        usage("produce <topic> <value>...");
                    }
                    produce(clientProps(common, only(config, PRODUCER)), opArgs.get(0), opArgs.subList(1, opArgs.size()), answer);
                }
                case "consume" -> {
                    if (opArgs.size() < 4) {
                        usage("consume <topic> <group> <count> <timeoutMs> [key=value...]");
                    }
                    exit = consume(clientProps(common, only(config, CONSUMER)), opArgs, answer);
                }
                case "list-topics" -> {
                    try (Admin admin = Admin.create(clientProps(common, only(config, ADMIN)))) {
                        ArrayNode names = answer.putArray("topics");
                        admin.listTopics().names().get(60, TimeUnit.SECONDS).stream().sorted().forEach(names::add);
                    }
                }
                default -> usage("unknown operation " + op);
            }
            if (exit == 0) {
                answer.put("ok", true);
            }
        } catch (Throwable t) {
            answer.put("ok", false);
            putError(answer, t);
            exit = 2;
        }
        if (!NOTES.isEmpty()) {
            ArrayNode notes = answer.putArray("notes");
            NOTES.forEach(notes::add);
        }
        try {
            OUT.println(JSON.writeValueAsString(answer));
        } catch (Exception e) {
            OUT.println("{\"ok\": false, \"error\": {\"class\": \"json\", \"message\": \"cannot write answer\"}}");
            exit = 2;
        }
        OUT.flush();
        System.exit(exit);
    }

    /** As the bridge's ConfigRetriever: the properties file, then every environment variable on top. */
    static Map<String, Object> loadConfig(String path) throws Exception {
        Properties props = new Properties();
        try (InputStream in = new FileInputStream(Path.of(path).toAbsolutePath().toString())) {
            props.load(in);
        }
        Map<String, Object> config = props.entrySet().stream().collect(Collectors.toMap(
                e -> String.valueOf(e.getKey()), e -> String.valueOf(e.getValue()), (prev, next) -> next, HashMap::new));
        config.putAll(System.getenv());
        return config;
    }

    /** As BridgeConfig.validateAndApplyDefaults (1.1.0); the stand-in cannot load the bridge's own reporter. */
    static void applyBridgeDefaults(Map<String, Object> config) {
        Object metrics = config.get("bridge.metrics");
        if ("strimziMetricsReporter".equals(metrics)) {
            config.putIfAbsent("kafka.metric.reporters", "io.strimzi.kafka.metrics.prometheus.ClientMetricsReporter");
            config.putIfAbsent("kafka.prometheus.metrics.reporter.listener.enable", "false");
            config.putIfAbsent("kafka.prometheus.metrics.reporter.allowlist",
                    "kafka_consumer_consumer_metrics.*, kafka_producer_kafka_metrics_count_count, kafka_producer_producer_metrics.*");
        } else if (metrics != null && !"jmxPrometheusExporter".equals(metrics)) {
            throw new IllegalArgumentException("Metrics type not found: " + metrics);
        }
        if (config.get("bridge.tracing") != null) {
            NOTES.add("bridge.tracing=" + config.get("bridge.tracing") + " is not applied by the stand-in");
        }
    }

    /** As KafkaConfig.fromMap: `kafka.*` minus the three client-specific prefixes, prefix stripped. */
    static Map<String, Object> common(Map<String, Object> map) {
        return map.entrySet().stream()
                .filter(e -> e.getKey().startsWith(KAFKA) && !e.getKey().startsWith(CONSUMER)
                        && !e.getKey().startsWith(PRODUCER) && !e.getKey().startsWith(ADMIN))
                .collect(Collectors.toMap(e -> e.getKey().substring(KAFKA.length()), Map.Entry::getValue));
    }

    /** As KafkaProducerConfig / KafkaConsumerConfig / KafkaAdminConfig.fromMap. */
    static Map<String, Object> only(Map<String, Object> map, String prefix) {
        return map.entrySet().stream()
                .filter(e -> e.getKey().startsWith(prefix))
                .collect(Collectors.toMap(e -> e.getKey().substring(prefix.length()), Map.Entry::getValue));
    }

    /** As KafkaBridgeProducer/Consumer/Admin.create: common first, then the client's own keys on top. */
    static Properties clientProps(Map<String, Object> common, Map<String, Object> specific) {
        Properties props = new Properties();
        props.putAll(common);
        props.putAll(specific);
        dropUnloadableReporters(props);
        return props;
    }

    static void dropUnloadableReporters(Properties props) {
        Object reporters = props.get("metric.reporters");
        if (reporters == null) {
            return;
        }
        List<String> kept = new ArrayList<>();
        for (String cls : String.valueOf(reporters).split(",")) {
            String c = cls.trim();
            if (c.isEmpty()) {
                continue;
            }
            try {
                Class.forName(c);
                kept.add(c);
            } catch (ClassNotFoundException e) {
                NOTES.add("metric reporter " + c + " ships with the real bridge, not with the stand-in; left out");
            }
        }
        props.put("metric.reporters", String.join(",", kept));
    }

    static void produce(Properties props, String topic, List<String> values, ObjectNode answer) throws Exception {
        ArrayNode offsets = answer.putArray("offsets");
        answer.put("topic", topic);
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer())) {
            List<java.util.concurrent.Future<RecordMetadata>> futures = new ArrayList<>();
            for (String v : values) {
                futures.add(producer.send(new ProducerRecord<>(topic, null, v.getBytes(StandardCharsets.UTF_8))));
            }
            for (java.util.concurrent.Future<RecordMetadata> f : futures) {
                RecordMetadata md = f.get(120, TimeUnit.SECONDS);
                ObjectNode o = offsets.addObject();
                o.put("partition", md.partition());
                o.put("offset", md.offset());
            }
        }
    }

    static int consume(Properties props, List<String> args, ObjectNode answer) throws Exception {
        String topic = args.get(0);
        String group = args.get(1);
        int count = Integer.parseInt(args.get(2));
        long timeoutMs = Long.parseLong(args.get(3));
        Properties request = new Properties();
        for (String kv : args.subList(4, args.size())) {
            int eq = kv.indexOf('=');
            String key = eq < 0 ? kv : kv.substring(0, eq);
            if (eq < 0 || !HTTP_CONSUMER_KEYS.contains(key)) {
                throw new IllegalArgumentException("the bridge accepts only " + new TreeMap<>(
                        HTTP_CONSUMER_KEYS.stream().collect(Collectors.toMap(k -> k, k -> ""))).keySet()
                        + " when a consumer is created over HTTP, not: " + kv);
            }
            request.put(key, kv.substring(eq + 1));
        }
        // As KafkaBridgeConsumer.create: group.id, then the HTTP request's settings, on top of the file's.
        props.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "bridge-kafka-side-" + group);
        props.putAll(request);
        answer.put("topic", topic);
        answer.put("group", group);
        ArrayNode records = answer.putArray("records");
        KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        try {
            consumer.subscribe(List.of(topic));
            long deadline = System.currentTimeMillis() + timeoutMs;
            while (records.size() < count && System.currentTimeMillis() < deadline) {
                ConsumerRecords<byte[], byte[]> batch = consumer.poll(Duration.ofMillis(Math.min(500, Math.max(1, deadline - System.currentTimeMillis()))));
                for (ConsumerRecord<byte[], byte[]> r : batch) {
                    ObjectNode o = records.addObject();
                    o.put("partition", r.partition());
                    o.put("offset", r.offset());
                    o.put("value", r.value() == null ? null : new String(r.value(), StandardCharsets.UTF_8));
                }
            }
            if (records.size() >= count && !"false".equals(String.valueOf(props.get(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG)))) {
                consumer.commitSync(Duration.ofSeconds(30));
            }
        } finally {
            consumer.close(CloseOptions.timeout(Duration.ofSeconds(5)));
        }
        if (records.size() < count) {
            answer.put("ok", false);
            ObjectNode err = answer.putObject("error");
            err.put("class", "java.util.concurrent.TimeoutException");
            err.put("message", "got " + records.size() + " of " + count + " records in " + timeoutMs + " ms");
            return 3;
        }
        return 0;
    }

    /** Per client: the keys it gets and their values, secret values hidden unless they are provider references. */
    static void describe(Map<String, Object> config, Map<String, Object> common, ObjectNode answer) {
        ObjectNode clients = answer.putObject("clients");
        Map<String, String> prefixes = new TreeMap<>(Map.of("producer", PRODUCER, "consumer", CONSUMER, "admin", ADMIN));
        for (Map.Entry<String, String> c : prefixes.entrySet()) {
            Properties props = clientProps(common, only(config, c.getValue()));
            ObjectNode o = clients.putObject(c.getKey());
            for (String key : new TreeMap<>(props.entrySet().stream().collect(Collectors.toMap(
                    e -> String.valueOf(e.getKey()), e -> String.valueOf(e.getValue())))).keySet()) {
                o.put(key, shown(key, String.valueOf(props.get(key))));
            }
        }
        ArrayNode ignored = answer.putArray("notForKafkaClients");
        config.keySet().stream().filter(k -> !k.startsWith(KAFKA) && (k.startsWith("bridge.") || k.startsWith("http.")))
                .sorted().forEach(ignored::add);
        // Which keys Kafka's own config providers resolve, checked the way each client would (without connecting).
        ObjectNode resolved = answer.putObject("resolvedByConfigProviders");
        for (Map.Entry<String, String> c : prefixes.entrySet()) {
            Properties props = clientProps(common, only(config, c.getValue()));
            Map<String, Object> originals = new HashMap<>();
            props.forEach((k, v) -> originals.put(String.valueOf(k), v));
            Map<String, Object> after;
            try {
                // The bridge hands serializer instances to the client constructors; their classes stand in here.
                after = switch (c.getKey()) {
                    case "producer" -> {
                        originals.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
                        originals.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
                        yield new ProducerConfig(originals).originals();
                    }
                    case "consumer" -> {
                        originals.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
                        originals.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
                        yield new ConsumerConfig(originals).originals();
                    }
                    default -> new AdminClientConfig(originals).originals();
                };
            } catch (Exception e) {
                ObjectNode err = resolved.putObject(c.getKey()).putObject("error");
                err.put("class", e.getClass().getName());
                err.put("message", String.valueOf(e.getMessage()));
                continue;
            }
            ArrayNode keys = resolved.putArray(c.getKey());
            for (String k : new TreeMap<>(originals).keySet()) {
                Object before = originals.get(k);
                Object now = after.get(k);
                if (before != null && String.valueOf(before).contains("${") && now != null
                        && !String.valueOf(now).contains("${") && !String.valueOf(now).isEmpty()) {
                    keys.add(k);
                }
            }
        }
    }

    static final List<String> SECRET_HINTS = Arrays.asList(
            "password", "ssl.keystore.key", "ssl.keystore.certificate.chain", "ssl.truststore.certificates",
            "sasl.jaas.config", "secret", "token");

    static String shown(String key, String value) {
        boolean secret = SECRET_HINTS.stream().anyMatch(key::contains);
        if (!secret) {
            return value;
        }
        String v = value.trim();
        return v.startsWith("${") && v.endsWith("}") && v.indexOf("${", 1) < 0 ? v : "[hidden]";
    }

    static void putError(ObjectNode answer, Throwable t) {
        Throwable cause = t;
        while ((cause instanceof ExecutionException || cause instanceof java.util.concurrent.CompletionException)
                && cause.getCause() != null) {
            cause = cause.getCause();
        }
        ObjectNode err = answer.putObject("error");
        err.put("class", cause.getClass().getName());
        err.put("message", String.valueOf(cause.getMessage()));
    }

    static void usage(String why) {
        System.err.println("BridgeKafkaSide: " + why);
        System.err.println("usage: java -cp '<libs>/*' BridgeKafkaSide.java --config-file=<path> "
                + "config | produce <topic> <value>... | consume <topic> <group> <count> <timeoutMs> [k=v...] | list-topics");
        System.exit(64);
    }
}
