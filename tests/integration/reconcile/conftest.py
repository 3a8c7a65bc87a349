"""Every test here needs the BridgedApp CRD on the session cluster (the operator fixtures are shared)."""

import pytest


@pytest.fixture(autouse=True)
def _crd(bridgedapp_crd: None) -> None:
    """Installed once per session by the shared `bridgedapp_crd` fixture."""
