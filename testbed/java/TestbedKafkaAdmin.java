// Test bed only: the test admin's Kafka AdminClient, driven line by line over stdin/stdout by testbed/kafka.py.
//
// Run:  java -cp '<kafka libs>/*' TestbedKafkaAdmin.java <admin client properties file>
// Each stdin line is one JSON request {"op": ..., ...}; each answer is one JSON line on stdout:
// {"ok": true, ...} or {"ok": false, "error": {"class": <Kafka exception class>, "message": ...}}.
// One long-lived JVM per broker keeps admin calls (topics, ACLs) fast instead of a JVM start per call.

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.CreateTopicsOptions;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AccessControlEntryFilter;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourcePatternFilter;
import org.apache.kafka.common.resource.ResourceType;

public class TestbedKafkaAdmin {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long CALL_TIMEOUT_S = 30;

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: TestbedKafkaAdmin <admin client properties file>");
            System.exit(64);
        }
        Properties props = new Properties();
        try (FileInputStream in = new FileInputStream(args[0])) {
            props.load(in);
        }
        // stdout carries the protocol only; keep it flushed per line.
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        try (Admin admin = Admin.create(props)) {
            BufferedReader reader = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String line;
            while ((line = reader.readLine()) != null) {
                if (line.isBlank()) {
                    continue;
                }
                ObjectNode answer;
                try {
                    JsonNode request = JSON.readTree(line);
                    answer = handle(admin, request);
                    answer.put("ok", true);
                } catch (Throwable t) {
                    answer = error(t);
                }
                out.println(JSON.writeValueAsString(answer));
                if (line.contains("\"quit\"")) {
                    break;
                }
            }
        }
    }

    private static ObjectNode handle(Admin admin, JsonNode request) throws Exception {
        String op = request.path("op").asText();
        ObjectNode answer = JSON.createObjectNode();
        answer.put("op", op);
        switch (op) {
            case "wait-ready" -> waitReady(admin, request.path("timeoutMs").asLong(60000), answer);
            case "create-topics" -> createTopics(admin, request, answer);
            case "list-topics" -> {
                ArrayNode names = answer.putArray("topics");
                admin.listTopics().names().get(CALL_TIMEOUT_S, TimeUnit.SECONDS).stream().sorted().forEach(names::add);
            }
            case "describe-topic" -> {
                String name = request.path("name").asText();
                TopicDescription d = admin.describeTopics(List.of(name)).allTopicNames()
                        .get(CALL_TIMEOUT_S, TimeUnit.SECONDS).get(name);
                answer.put("name", d.name());
                answer.put("partitions", d.partitions().size());
                answer.put("replicationFactor", d.partitions().get(0).replicas().size());
                ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, name);
                Config config = admin.describeConfigs(List.of(resource)).all()
                        .get(CALL_TIMEOUT_S, TimeUnit.SECONDS).get(resource);
                ObjectNode configs = answer.putObject("configs");
                for (ConfigEntry entry : config.entries()) {
                    if (entry.source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG) {
                        configs.put(entry.name(), entry.value());
                    }
                }
            }
            case "create-acls" -> {
                List<AclBinding> bindings = new ArrayList<>();
                for (JsonNode b : request.path("bindings")) {
                    bindings.add(binding(b));
                }
                admin.createAcls(bindings).all().get(CALL_TIMEOUT_S, TimeUnit.SECONDS);
                answer.put("created", bindings.size());
            }
            case "delete-acls" -> {
                List<AclBindingFilter> filters = new ArrayList<>();
                for (JsonNode b : request.path("bindings")) {
                    filters.add(binding(b).toFilter());
                }
                int deleted = admin.deleteAcls(filters).all().get(CALL_TIMEOUT_S, TimeUnit.SECONDS).size();
                answer.put("deleted", deleted);
            }
            case "describe-acls" -> {
                String principal = request.path("principal").isTextual() ? request.path("principal").asText() : null;
                AclBindingFilter filter = new AclBindingFilter(ResourcePatternFilter.ANY,
                        new AccessControlEntryFilter(principal, null, AclOperation.ANY, AclPermissionType.ANY));
                ArrayNode list = answer.putArray("bindings");
                for (AclBinding b : admin.describeAcls(filter).values().get(CALL_TIMEOUT_S, TimeUnit.SECONDS)) {
                    list.add(toJson(b));
                }
            }
            case "quit" -> { }
            default -> throw new IllegalArgumentException("unknown op: " + op);
        }
        return answer;
    }

    /** Retries describeCluster until the broker answers: readiness is "an authorised admin call works". */
    private static void waitReady(Admin admin, long timeoutMs, ObjectNode answer) throws Exception {
        long deadline = System.currentTimeMillis() + timeoutMs;
        Throwable last = null;
        while (System.currentTimeMillis() < deadline) {
            try {
                DescribeClusterResult r = admin.describeCluster();
                String clusterId = r.clusterId().get(5, TimeUnit.SECONDS);
                List<Node> nodes = new ArrayList<>(r.nodes().get(5, TimeUnit.SECONDS));
                if (!nodes.isEmpty()) {
                    answer.put("clusterId", clusterId);
                    answer.put("nodes", nodes.size());
                    return;
                }
            } catch (ExecutionException e) {
                last = e.getCause();
            } catch (java.util.concurrent.TimeoutException e) {
                last = e;
            }
            Thread.sleep(200);
        }
        throw new java.util.concurrent.TimeoutException("broker not ready after " + timeoutMs + " ms"
                + (last == null ? "" : "; last error: " + last.getClass().getName() + ": " + last.getMessage()));
    }

    private static void createTopics(Admin admin, JsonNode request, ObjectNode answer) throws Exception {
        boolean ifNotExists = request.path("ifNotExists").asBoolean(true);
        ArrayNode created = answer.putArray("created");
        ArrayNode existed = answer.putArray("existed");
        for (JsonNode t : request.path("topics")) {
            String name = t.path("name").asText();
            NewTopic topic = new NewTopic(name, t.path("partitions").asInt(1), (short) t.path("replicationFactor").asInt(1));
            Map<String, String> configs = new HashMap<>();
            Iterator<Map.Entry<String, JsonNode>> fields = t.path("configs").fields();
            while (fields.hasNext()) {
                Map.Entry<String, JsonNode> f = fields.next();
                configs.put(f.getKey(), f.getValue().asText());
            }
            topic.configs(configs);
            try {
                admin.createTopics(List.of(topic), new CreateTopicsOptions()).all().get(CALL_TIMEOUT_S, TimeUnit.SECONDS);
                created.add(name);
            } catch (ExecutionException e) {
                if (ifNotExists && e.getCause() instanceof TopicExistsException) {
                    existed.add(name);
                } else {
                    throw e;
                }
            }
        }
    }

    private static AclBinding binding(JsonNode b) {
        ResourcePattern pattern = new ResourcePattern(
                ResourceType.valueOf(b.path("resourceType").asText()),
                b.path("resourceName").asText(),
                PatternType.valueOf(b.path("patternType").asText()));
        AccessControlEntry entry = new AccessControlEntry(
                b.path("principal").asText(),
                b.path("host").asText("*"),
                AclOperation.valueOf(b.path("operation").asText()),
                AclPermissionType.valueOf(b.path("permission").asText("ALLOW")));
        return new AclBinding(pattern, entry);
    }

    private static ObjectNode toJson(AclBinding b) {
        ObjectNode o = JSON.createObjectNode();
        o.put("resourceType", b.pattern().resourceType().name());
        o.put("resourceName", b.pattern().name());
        o.put("patternType", b.pattern().patternType().name());
        o.put("principal", b.entry().principal());
        o.put("host", b.entry().host());
        o.put("operation", b.entry().operation().name());
        o.put("permission", b.entry().permissionType().name());
        return o;
    }

    private static ObjectNode error(Throwable t) {
        Throwable cause = t;
        while ((cause instanceof ExecutionException || cause instanceof java.util.concurrent.CompletionException)
                && cause.getCause() != null) {
            cause = cause.getCause();
        }
        ObjectNode answer = JSON.createObjectNode();
        answer.put("ok", false);
        ObjectNode err = answer.putObject("error");
        err.put("class", cause.getClass().getName());
        err.put("message", String.valueOf(cause.getMessage()));
        return answer;
    }
}
