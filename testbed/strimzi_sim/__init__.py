"""TEST DOUBLE — simulates Strimzi's cluster, user and topic operators against a real API server.

Strimzi's Java operators cannot run on these machines, so this package plays their reconcile loop:
Kafka / KafkaNodePool / KafkaUser / KafkaTopic status, and the CA and user Secrets with real X.509
material, written where and how Strimzi writes them. It never runs pods or brokers. Each part can be
switched off where the real operator runs. See testbed/strimzi_sim/simulator.py.
"""

from testbed.strimzi_sim.ca import CertificateAuthority, IssuedCertificate
from testbed.strimzi_sim.simulator import PARTS, StrimziSimulator

__all__ = ["PARTS", "CertificateAuthority", "IssuedCertificate", "StrimziSimulator"]
