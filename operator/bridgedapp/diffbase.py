"""Kopf's "last handled configuration", kept as a digest of the spec instead of a copy of the object.

Kopf stores the essence of the last handled object in an annotation to tell a real change from noise.
A copy of a large spec outgrows an annotation's 256 KiB (the API server then refuses every patch Kopf makes
and the object wedges: no status, no deletion), doubles the object in etcd and sits in the operator's
memory for every app. The operator reacts only to `spec` changes (`on.update(field="spec")`), so a digest
of the spec says all it needs: changed or not. The annotation stays a few dozen bytes whatever the spec.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

import kopf


def spec_digest(spec: Any) -> str:
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=dict)
    return hashlib.sha256(canonical.encode()).hexdigest()


class SpecDigestStorage(kopf.AnnotationsDiffBaseStorage):
    """Annotations diff-base storage whose essence is `{"spec": {"sha256": ...}}`."""

    def build(self, *, body: kopf.Body, extra_fields: Iterable[Any] | None = None) -> kopf.BodyEssence:
        return {"spec": {"sha256": spec_digest(body.get("spec") or {})}}  # type: ignore[typeddict-unknown-key]
