import pytest
from deadlines_support import calendar_w as build_calendar_w
from pledge_deadlines import Calendar


@pytest.fixture(scope="session")
def calendar_w() -> Calendar:
    """Calendar *W* of DESIGN.md (see ``deadlines_support.calendar_w``)."""
    return build_calendar_w()
