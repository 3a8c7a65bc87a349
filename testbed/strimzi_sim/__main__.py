"""TEST DOUBLE — `python -m testbed.strimzi_sim --kubeconfig K`: run the Strimzi simulator in the foreground."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

import pykube

from testbed.strimzi_sim.simulator import PARTS, StrimziSimulator

BANNER = (
    "TEST DOUBLE: simulating Strimzi's {parts} operator(s) against {server} ({not_simulated})\n"
    "  no Kafka pods or brokers run; statuses and CA/user Secrets are written the way Strimzi writes them\n"
    "  watching: {namespaces}. Stop with Ctrl-C."
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.strimzi_sim", description=__doc__)
    parser.add_argument("--kubeconfig", required=True, help="kubeconfig of the cluster to play Strimzi on")
    parser.add_argument(
        "--namespace",
        action="append",
        dest="namespaces",
        help="a namespace the simulated cluster operator watches (repeat; default: all)",
    )
    parser.add_argument(
        "--parts", default=",".join(PARTS), help=f"comma-separated parts to run (default: {','.join(PARTS)})"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every write")
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(message)s"
    )
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    sim = StrimziSimulator(args.kubeconfig, watched_namespaces=args.namespaces, parts=parts)
    server = pykube.KubeConfig.from_file(args.kubeconfig).cluster["server"]
    print(
        BANNER.format(
            parts=", ".join(parts),
            server=server,
            not_simulated=sim.not_simulated_note,
            namespaces="all namespaces" if not args.namespaces else ", ".join(args.namespaces),
        ),
        flush=True,
    )
    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    with sim:
        while not done.wait(1.0):
            pass
    print(f"Strimzi simulator stopped after {sim.passes} passes and {sim.writes} writes.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
