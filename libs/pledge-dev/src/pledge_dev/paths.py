"""Where things are in a checkout."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[4]
DATA_DIR = REPO_ROOT / ".data"
SERVICES_DIR = REPO_ROOT / "services"
