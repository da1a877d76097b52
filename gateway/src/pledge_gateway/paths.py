"""The one form of a request path: the path the edge matches is exactly the path it forwards.

The route (and so the scope) is chosen from the decoded path, while the service receives the raw one
through an HTTP client that resolves dot segments and decodes some escapes. So the edge refuses, before
matching, every path that another component could read as different segments:

- a dot segment (`.`, `..`, or any segment made only of dots), plain or percent-encoded in any case
  (`%2e%2E`), also behind a `;` parameter (`..;x`);
- an encoded slash (`%2f`), a backslash or its escape (`%5c`), an empty segment (`//`, a trailing `/`
  excepted) and a fragment (`#`);
- all of the above in every decoding of the path, so double encoding (`%252e`) is refused too.

Refusing instead of normalising keeps one form only: no client, proxy or service can disagree on it.
"""

from urllib.parse import unquote

# Each decoding is checked; a path still changing after this many is refused.
MAX_DECODINGS = 4


def _segment_fault(segment: str) -> str | None:
    name = segment.split(";", 1)[0].lower().replace("%2e", ".")
    if name and name.strip(".") == "":
        return "a dot segment"
    return None


def _form_fault(form: str) -> str | None:
    lowered = form.lower()
    if "\\" in form or "%5c" in lowered:
        return "a backslash"
    if "%2f" in lowered:
        return "an encoded slash"
    if "#" in form:
        return "a fragment"
    segments = form.split("/")[1:]
    for index, segment in enumerate(segments):
        if segment == "" and index < len(segments) - 1:
            return "an empty segment"
        fault = _segment_fault(segment)
        if fault is not None:
            return fault
    return None


def path_fault(raw_path: str) -> str | None:
    """What makes `raw_path` (as received, before any decoding) ambiguous; None when it has one form only."""
    form = raw_path
    for _ in range(MAX_DECODINGS):
        fault = _form_fault(form)
        if fault is not None:
            return fault
        decoded = unquote(form)
        if decoded == form:
            return None
        form = decoded
    return "nested percent-encoding"
