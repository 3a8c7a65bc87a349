"""Write what a plan decided, in its order, and say what the API server refused.

The only step of a pass that writes (besides Strimzi's installation, which `strimzi.py` owns). Every write
is a server-side apply as the operator's field manager. A conflict on an object the operator alone owns
(`Write.reclaim`) is taken back with a forced apply and a Warning naming who changed it; anywhere else a
conflict, like a write the API server refuses as invalid, becomes a stalled condition: only a person can
resolve it, and the operator never forces over the user's own fields.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridgedapp import conditions as c
from bridgedapp import reasons as r
from bridgedapp.conditions import Check
from bridgedapp.kube import ApplyConflict, Kube, KubeError
from bridgedapp.world import Event, Plan, Write, describe


@dataclass(frozen=True)
class Applied:
    """What the writes did: conditions that replace the plan's own (a write failed), events to post."""

    failures: tuple[Check, ...] = ()
    events: tuple[Event, ...] = ()


def apply_plan(kube: Kube, plan: Plan) -> Applied:
    """Apply every write of `plan`; other API errors propagate (the pass is retried)."""
    failures: list[Check] = []
    events: list[Event] = []
    for write in plan.writes:
        try:
            _write(kube, write, events)
        except ApplyConflict as err:
            failures.append(
                Check(
                    write.condition,
                    False,
                    r.CONFLICT,
                    f"{err}. The operator does not force: remove those fields from the other manager's "
                    "manifest.",
                    stalled=True,
                )
            )
            failures += [c.waiting(t, write.condition) for t in write.blocks]
        except KubeError as err:
            if not refused(err):
                raise
            failures.append(refused_check(write.condition, err))
            failures += [c.waiting(t, write.condition) for t in write.blocks]
    return Applied(tuple(failures), tuple(events))


def _write(kube: Kube, write: Write, events: list[Event]) -> None:
    try:
        kube.apply(write.obj)
    except ApplyConflict as err:
        if not write.reclaim:
            raise
        events.append(
            Event(
                "Warning",
                r.REVERTED,
                f"{describe(write.obj)} was changed by {', '.join(err.managers) or 'another manager'}; the "
                "operator owns it and restored it.",
            )
        )
        kube.apply(write.obj, force=True)
    if write.announce is not None:
        events.append(write.announce)


def refused(err: KubeError) -> bool:
    """The API server refused the object itself (invalid, malformed): retrying the same write cannot help."""
    return err.status_code in (400, 422)


def refused_check(condition: str, err: KubeError) -> Check:
    return Check(
        condition,
        False,
        r.REFUSED,
        f"The API server refused it: {err}. Fix the BridgedApp's spec.",
        stalled=True,
    )
