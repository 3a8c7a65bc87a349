"""One reconcile pass for one BridgedApp: gather → plan → apply → report.

This is the domain logic the Kopf handlers delegate to (crate-operator's split). `gather.py` reads the
world, the pure `plan.py` decides, `apply.py` writes what differs, `report.py` makes the status and the
events; this module only runs them in order, under the app's lock (`scheduling.py`). It never imports Kopf,
so a pass can be driven by any trigger: the BridgedApp itself, or a change of a Strimzi object, a Secret or
the app's Deployment.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from bridgedapp import KIND, PLURAL, report
from bridgedapp import cleanup as deletion
from bridgedapp.apply import apply_plan
from bridgedapp.conditions import transitions
from bridgedapp.gather import APP_API, gather
from bridgedapp.index import references
from bridgedapp.kube import Kube
from bridgedapp.models import parse_spec, spec_problems
from bridgedapp.plan import plan
from bridgedapp.scheduling import PassScheduler
from bridgedapp.settings import Settings
from bridgedapp.strimzi import StrimziEnsurer
from bridgedapp.world import Event, Retry

log = logging.getLogger(__name__)

STATUS_INTERVAL = 30.0  # seconds between two status patches of one app that only report progress


@dataclass
class Outcome:
    """What a pass decided: the status stored (None: unchanged) and the events worth posting."""

    status: dict[str, Any] | None
    events: list[Event] = field(default_factory=list)
    app: dict[str, Any] | None = None
    retry: Retry | None = None
    again: float | None = None  # a status held back (`STATUS_INTERVAL`): run a pass again this much later


class Reconciler:
    """Drives BridgedApps towards their spec. One instance per operator process."""

    def __init__(self, kube: Kube, settings: Settings, ensurer: StrimziEnsurer | None = None) -> None:
        self.kube = kube
        self.settings = settings
        self.ensurer = ensurer or StrimziEnsurer(kube, settings)
        self.scheduler = PassScheduler()
        self._patched: dict[tuple[str, str], float] = {}  # when each app's status was last patched
        self._held: set[tuple[str, str]] = set()  # apps whose newest status is held back (see _store)

    # ---- entry points -------------------------------------------------------------------------------

    def claim(self, namespace: str, name: str, *, full: bool = True) -> bool:
        """Ask for a pass of this app; False when one is already queued (it will see this change too).
        `full=False`: only its Deployment's status changed (see `reconcile_claimed`)."""
        return self.scheduler.claim((namespace, name), full=full)

    def has_run(self, namespace: str, name: str) -> bool:
        """A pass of this app ran in this process (since it was last deleted)."""
        return self.scheduler.known((namespace, name))

    def reconcile_claimed(self, namespace: str, name: str) -> Outcome | None:
        """The pass a successful `claim` asked for. When every claim it carries was a change of only the app
        Deployment's status (pods starting, rolling, failing), AppAvailable and the summary are computed
        from the Deployment alone (`report.availability`), with no gather and no plan, when that is enough."""
        return self.reconcile_ref(namespace, name, claimed=True)

    def reconcile_ref(self, namespace: str, name: str, *, claimed: bool = False) -> Outcome | None:
        """Reconcile by reference; gone or deleting apps are left alone.

        The app is read *after* taking its lock: a pass that waited for another one must compare against
        the status that pass wrote, or it would write and announce the same transitions again.
        """
        with self.scheduler.locked((namespace, name)):
            full = self.scheduler.started((namespace, name)) if claimed else True
            full = full or (namespace, name) in self._held  # what was held back needs the full pass again
            app = self.kube.get(APP_API, KIND, name, namespace)
            if app is None or app["metadata"].get("deletionTimestamp"):
                return None
            status = None if full else self._availability(app)
            if status is None:
                return self._reconcile(app)
            return self._store(app, status, [])

    def _availability(self, app: dict[str, Any]) -> dict[str, Any] | None:
        """The status from the injected Deployment's availability alone; None when a full pass must decide."""
        deployment_name = ((app.get("status") or {}).get("bridge") or {}).get("deployment")
        if not deployment_name:
            return None
        deployment = self.kube.get("apps/v1", "Deployment", deployment_name, app["metadata"]["namespace"])
        return report.availability(app, deployment) if deployment is not None else None

    def reconcile(self, app: dict[str, Any]) -> Outcome | None:
        """Reconcile the app a BridgedApp event carried (read again under the lock, see reconcile_ref)."""
        return self.reconcile_ref(app["metadata"]["namespace"], app["metadata"]["name"])

    def cleanup(self, app: dict[str, Any]) -> list[Event]:
        """Undo what this app added (see cleanup.py); its lock is dropped once that is done."""
        ref = (app["metadata"]["namespace"], app["metadata"]["name"])
        with self.scheduler.locked(ref):
            events = deletion.cleanup(self.kube, self.ensurer, app)
        self.scheduler.forget(ref)
        self._patched.pop(ref, None)
        self._held.discard(ref)
        return events

    # ---- the pass ------------------------------------------------------------------------------------

    def _reconcile(self, app: dict[str, Any]) -> Outcome:
        try:
            spec = parse_spec(app.get("spec") or {})
        except ValidationError as err:
            return self._store(app, report.invalid_spec_status(app, "; ".join(spec_problems(err))), [])
        world = gather(self.kube, self.ensurer, self.settings, app, spec)
        decided = plan(spec, world)
        applied = apply_plan(self.kube, decided)
        status = report.conclude(app, decided, applied.failures)
        events = [*decided.events, *applied.events]
        announced = frozenset(w.condition for w in decided.writes if w.announce is not None)
        outcome = self._store(
            app, status, events, paused=spec.paused, wrote=bool(decided.writes), announced=announced
        )
        outcome.retry = decided.retry
        return outcome

    def _store(
        self,
        app: dict[str, Any],
        status: dict[str, Any],
        events: list[Event],
        *,
        paused: bool = False,
        wrote: bool = False,
        announced: frozenset[str] = frozenset(),
    ) -> Outcome:
        """Write the status when it changed (one patch; absent keys are dropped explicitly), with the events
        its transitions announce. A change that only reports progress others made after the injection
        (`report.progress_only`: pods rolling out, a topic Strimzi readied late; `wrote` False: this pass
        wrote nothing it must report) within `STATUS_INTERVAL` of this app's last patch is held back, and a
        pass runs again when it is due: a rollout is then one patch, its end (Ready is never held back), or
        one patch per `STATUS_INTERVAL` while it lasts; a thousand rollouts made five patches per app."""
        current = app.get("status") or {}
        if status == current:
            return Outcome(None, events, app)
        meta = app["metadata"]
        ref = (meta["namespace"], meta["name"])
        now = time.monotonic()
        due = self._patched.get(ref, float("-inf")) + STATUS_INTERVAL
        if not wrote and now < due and report.progress_only(current, status):
            self._held.add(ref)
            return Outcome(None, events, app, again=due - now)
        self._held.discard(ref)
        dropped = {key: None for key in current if key not in status}  # a merge patch keeps absent keys
        self.kube.patch_status(APP_API, KIND, meta["name"], meta["namespace"], {**status, **dropped})
        self._patched[ref] = time.monotonic()
        changed = [f"{x['type']}={x['status']} ({x['reason']})" for x in transitions(current, status)]
        log.info("%s/%s status: %s", meta["namespace"], meta["name"], ", ".join(changed) or "messages only")
        news = report.announcements(current, status, paused=paused, announced=announced)
        return Outcome(status, [*events, *news], app)


__all__ = ["APP_API", "PLURAL", "Event", "Outcome", "Reconciler", "references"]
