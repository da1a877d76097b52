"""Fixtures of the deploy checks."""

from typing import Any

import pytest
from deploy_support import K8S, OVERLAYS, render


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Every overlay, rendered once per session by `kubectl kustomize`."""
    return {overlay: render(K8S / "overlays" / overlay) for overlay in OVERLAYS}
