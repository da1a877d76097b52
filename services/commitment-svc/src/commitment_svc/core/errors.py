"""Turn database constraint violations into problems naming the field (never a 500)."""

from collections.abc import Mapping

from pledge_common.problems import Conflict, Problem, Unprocessable, field_error
from sqlalchemy.exc import IntegrityError


def constraint_name(err: IntegrityError) -> str | None:
    orig = getattr(err, "orig", None)
    cause = getattr(orig, "__cause__", None)
    for candidate in (cause, orig):
        name = getattr(candidate, "constraint_name", None)
        if name:
            return str(name)
    return None


def problem_for(err: IntegrityError, known: Mapping[str, tuple[int, str, str]]) -> Problem:
    """`known` maps a constraint name to (status, field, message)."""
    name = constraint_name(err)
    if name is not None and name in known:
        status, field, message = known[name]
        cls = Conflict if status == 409 else Unprocessable
        return cls(f"{field}: {message}", errors=[field_error(field, message)], constraint=name)
    return Conflict(f"the change conflicts with existing data ({name or 'constraint'})", constraint=name)
