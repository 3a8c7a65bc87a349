"""A real Apache Kafka broker for the data-path tests, by concern: `jars` (Maven Central, the Java programs),
`acls` (a KafkaUser's ACLs as Kafka bindings), `identity` (TLS clients), `admin` (the admin JVM), `broker`."""
