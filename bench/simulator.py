"""`python -m bench.simulator --kubeconfig K`: the Strimzi simulator (a TEST DOUBLE) in a process of its own.

The scale benchmark runs it apart so that its CPU (a certificate per KafkaUser) is neither the operator's nor
the floor's nor the bench's own; a slow resync keeps it quiet while the idle figures are taken.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from testbed.strimzi_sim import StrimziSimulator

READY_LINE = "simulator ready"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.simulator", description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--resync-seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    with StrimziSimulator(args.kubeconfig, resync_seconds=args.resync_seconds) as sim:
        print(f"{READY_LINE} (TEST DOUBLE for Strimzi's reconcile loop)", flush=True)
        done.wait()
        print(f"simulator: {sim.writes} writes, {sim.passes} passes", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
