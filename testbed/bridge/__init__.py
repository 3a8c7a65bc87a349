"""The Strimzi HTTP Bridge in the data-path tests, in two tiers (see docs: testbed.md, "The bridge"), by concern:
`pod` (reading a container spec), `mounts` (the files at their mount paths), `kafka_side` (tier 1), `dist` and
`process` (tier 2: finding and running the real bridge), `errors` (reporting without secrets).


Tier 1, always: `run_bridge_kafka_side` runs testbed/java/BridgeKafkaSide.java, a TEST DOUBLE for the bridge's HTTP
layer only; its Kafka side is the real `kafka-clients`, configured from the rendered properties exactly as the
bridge 1.1.0 splits them. Tier 2, where a distribution can be had: `RealBridge` runs the real bridge
(`bin/kafka_bridge_run.sh --config-file=...`) on Java 21 or newer; `find_bridge_dist` says precisely what is
missing when it cannot.

Both run in a private mount namespace (`unshare -m`, tmpfs, bind mounts) in which the rendered files sit at exactly
the paths the container spec mounts them at (e.g. /opt/strimzi/...), laid out the way the kubelet lays out
ConfigMap and Secret volumes (`..data` symlinks). Nothing on the host changes. Where a mount namespace cannot be
made (not root, no `unshare`), the files go to a private folder instead and every mount-path prefix in the
properties is rewritten to it; the result then says so in `notes`.
"""
