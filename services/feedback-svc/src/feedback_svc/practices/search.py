"""Search text of practices: one normalised form for stored text and queries. Pure functions.

Stored text and query terms are both NFKC-normalised (full-width letters and digits become ASCII), case-folded
and have their runs of whitespace collapsed; a query matches when every term is a substring of the stored text.
Substrings work for Chinese, which has no spaces between words: 复电 finds 抢修一次性复电率."""

import re
import unicodedata

MAX_TERMS = 8
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def search_text(title: str, body: str, tags: list[str]) -> str:
    return normalise(" ".join([title, body, *tags]))


def terms(query: str) -> list[str]:
    """The distinct terms of a query, in order (empty when it holds only spaces)."""
    seen: list[str] = []
    for term in normalise(query).split(" "):
        if term and term not in seen:
            seen.append(term)
    return seen


def like_pattern(term: str) -> str:
    """`%term%` for ILIKE with the LIKE wildcards of the term escaped (backslash is the escape)."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
