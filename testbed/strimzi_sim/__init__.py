"""TEST DOUBLE — simulates Strimzi's cluster, user and topic operators against a real API server.

Strimzi's cluster operator cannot run on these machines (it deploys pods), so this package plays its
reconcile loop and, for the fast tiers, that of its User and Topic Operators: Kafka / KafkaNodePool /
KafkaUser / KafkaTopic status, and the CA and user Secrets with real X.509 material, written where and how
Strimzi writes them. It never runs pods or brokers. `parts` switches a part off where the real operator
runs (tier 3 of the data path runs Strimzi's own User and Topic Operators beside `parts=("cluster",)`).
How it still differs from Strimzi: testbed/strimzi_sim/README.md. See testbed/strimzi_sim/simulator.py.
"""

from testbed.strimzi_sim.ca import CertificateAuthority, IssuedCertificate
from testbed.strimzi_sim.simulator import PARTS, StrimziSimulator

__all__ = ["PARTS", "CertificateAuthority", "IssuedCertificate", "StrimziSimulator"]
