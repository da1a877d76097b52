"""Readiness follows the migration state: at head, or ahead of this code during a rolling upgrade."""

from pledge_common.db import MigrationTree

TREE = MigrationTree(head="svc_0003", known=frozenset({"svc_0001", "svc_0002", "svc_0003"}))


def test_ready_at_head() -> None:
    assert TREE.is_ready("svc_0003")


def test_not_ready_behind_head() -> None:
    assert not TREE.is_ready("svc_0002")


def test_not_ready_without_any_migration() -> None:
    assert not TREE.is_ready(None)


def test_ready_when_a_newer_release_has_migrated_already() -> None:
    assert TREE.is_ready("svc_0004")
