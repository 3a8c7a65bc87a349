"""One reconcile pass for one BridgedApp: gather → plan → apply → report.

This is the domain logic the Kopf handlers delegate to (crate-operator's split). `gather.py` reads the
world, the pure `plan.py` decides, `apply.py` writes what differs, `report.py` makes the status and the
events; this module only runs them in order, under the app's lock (`scheduling.py`). It never imports Kopf,
so a pass can be driven by any trigger: the BridgedApp itself, or a change of a Strimzi object, a Secret or
the app's Deployment.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from bridgedapp import KIND, PLURAL, report
from bridgedapp import cleanup as deletion
from bridgedapp.apply import apply_plan
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


@dataclass
class Outcome:
    """What a pass decided: the status stored (None: unchanged) and the events worth posting."""

    status: dict[str, Any] | None
    events: list[Event] = field(default_factory=list)
    app: dict[str, Any] | None = None
    retry: Retry | None = None


class Reconciler:
    """Drives BridgedApps towards their spec. One instance per operator process."""

    def __init__(self, kube: Kube, settings: Settings, ensurer: StrimziEnsurer | None = None) -> None:
        self.kube = kube
        self.settings = settings
        self.ensurer = ensurer or StrimziEnsurer(kube, settings)
        self.scheduler = PassScheduler()

    # ---- entry points -------------------------------------------------------------------------------

    def claim(self, namespace: str, name: str) -> bool:
        """Ask for a pass of this app because a related object changed; False when one is already queued."""
        return self.scheduler.claim((namespace, name))

    def reconcile_claimed(self, namespace: str, name: str) -> Outcome | None:
        """The pass a successful `claim` asked for."""
        return self.reconcile_ref(namespace, name, claimed=True)

    def reconcile_ref(self, namespace: str, name: str, *, claimed: bool = False) -> Outcome | None:
        """Reconcile by reference (a related object changed); gone or deleting apps are left alone.

        The app is read *after* taking its lock: a pass that waited for another one must compare against
        the status that pass wrote, or it would write and announce the same transitions again.
        """
        with self.scheduler.locked((namespace, name)):
            if claimed:
                self.scheduler.started((namespace, name))
            app = self.kube.get(APP_API, KIND, name, namespace)
            if app is None or app["metadata"].get("deletionTimestamp"):
                return None
            return self._reconcile(app)

    def availability_claimed(self, namespace: str, name: str, deployment: dict[str, Any]) -> Outcome | None:
        """The claimed pass after a change of only the app Deployment's status: AppAvailable and the summary
        from the Deployment the watch delivered, no gather and no plan (`report.availability`); a full pass
        when that is not enough."""
        with self.scheduler.locked((namespace, name)):
            self.scheduler.started((namespace, name))
            app = self.kube.get(APP_API, KIND, name, namespace)
            if app is None or app["metadata"].get("deletionTimestamp"):
                return None
            status = report.availability(app, deployment)
            if status is None:
                return self._reconcile(app)
            current = app.get("status") or {}
            return self._store(app, status, report.announcements(current, status, paused=False))

    def reconcile(self, app: dict[str, Any]) -> Outcome | None:
        """Reconcile the app a BridgedApp event carried (read again under the lock, see reconcile_ref)."""
        return self.reconcile_ref(app["metadata"]["namespace"], app["metadata"]["name"])

    def cleanup(self, app: dict[str, Any]) -> list[Event]:
        """Undo what this app added (see cleanup.py); its lock is dropped once that is done."""
        ref = (app["metadata"]["namespace"], app["metadata"]["name"])
        with self.scheduler.locked(ref):
            events = deletion.cleanup(self.kube, self.ensurer, app)
        self.scheduler.forget(ref)
        return events

    # ---- the pass ------------------------------------------------------------------------------------

    def _reconcile(self, app: dict[str, Any]) -> Outcome:
        current = app.get("status") or {}
        try:
            spec = parse_spec(app.get("spec") or {})
        except ValidationError as err:
            status = report.invalid_spec_status(app, "; ".join(spec_problems(err)))
            return self._store(app, status, report.announcements(current, status, paused=False))
        world = gather(self.kube, self.ensurer, self.settings, app, spec)
        decided = plan(spec, world)
        applied = apply_plan(self.kube, decided)
        status = report.conclude(app, decided, applied.failures)
        events = [
            *decided.events,
            *applied.events,
            *report.announcements(current, status, paused=spec.paused),
        ]
        outcome = self._store(app, status, events)
        outcome.retry = decided.retry
        return outcome

    def _store(self, app: dict[str, Any], status: dict[str, Any], events: list[Event]) -> Outcome:
        """Write the status when it changed (one patch); absent keys are dropped explicitly."""
        current = app.get("status") or {}
        if status == current:
            return Outcome(None, events, app)
        meta = app["metadata"]
        dropped = {key: None for key in current if key not in status}  # a merge patch keeps absent keys
        self.kube.patch_status(APP_API, KIND, meta["name"], meta["namespace"], {**status, **dropped})
        return Outcome(status, events, app)


__all__ = ["APP_API", "PLURAL", "Event", "Outcome", "Reconciler", "references"]
