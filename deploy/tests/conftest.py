"""Fixtures of the deploy checks."""

from typing import Any

import pytest
from deploy_support import DB_ADMIN, K8S, OVERLAYS, render


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Every overlay, rendered once per session by `kubectl kustomize`."""
    return {overlay: render(K8S / "overlays" / overlay) for overlay in OVERLAYS}


@pytest.fixture(scope="session")
def db_admin() -> list[dict[str, Any]]:
    """deploy/k8s/db-admin rendered: the bootstrap Job in its own namespace."""
    return render(DB_ADMIN)
