"""Which judged runs a change of commitment versions takes from the version that governs them.

A run is judged by the version in force when it started (`governing_version`). A version that starts in
the past takes over the runs started since then that its predecessor (or the `default` segment's version)
governs. Only runs already judged count: a run no version governed is simply judged for the first time.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from evaluation_svc.rules import CommitmentVersion, governing_version


@dataclass(frozen=True, slots=True)
class JudgedRun:
    """What decides a run's governing version, and the version that governs it now."""

    id: str
    process_key: str
    node_key: str | None
    segment: str
    started_at: datetime
    commitment_id: str


def runs_changing_version(runs: Iterable[JudgedRun], versions: Sequence[CommitmentVersion]) -> list[str]:
    """Ids of the runs whose governing version under `versions` is not the one that governs them now."""
    changing = []
    for run in runs:
        version = governing_version(versions, run.process_key, run.node_key, run.segment, run.started_at)
        if version is None or version.id != run.commitment_id:
            changing.append(run.id)
    return changing
