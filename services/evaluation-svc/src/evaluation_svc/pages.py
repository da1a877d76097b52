"""The operator's ceiling on page sizes (`EVALUATION_PAGE_MAX`), over the lists' own maximum of 500."""

from fastapi import Request
from pledge_common.pagination import PageRequest
from pledge_common.problems import invalid


def check_page_max(request: Request, page: PageRequest) -> None:
    """A limit above the configured `page_max` is a 422 naming `query.limit` (never clipped)."""
    page_max: int = request.app.state.settings.page_max
    if page.limit > page_max:
        raise invalid("query.limit", f"a page of this list holds at most {page_max} items")
