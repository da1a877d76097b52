"""How deep JSON may nest, on the way in and on the way out.

JSON decoders and encoders recurse once per level of nesting: Python's `json` and msgspec stop near
1 000 levels with `RecursionError`, pydantic's serialiser refuses values nested past about 250. A value
accepted deeper than any of these would fail every answer that carries it, so:

- on the way in, a JSON body may nest at most `MAX_BODY_DEPTH` levels (checked before any route runs,
  `pledge_common.textguard`), and a free-form field (a ticket's attributes) has its own, smaller limit,
  checked by its service (`value_depth_exceeds`);
- on the way out, values read from the database are decoded by `bounded_loads`: a value stored before
  these limits existed, nested deeper than `MAX_READ_DEPTH`, is answered with each part below that level
  as its JSON text (a string), so whatever was stored can always be answered. That level is well above
  what is accepted (so what is accepted is answered whole) and well below what answers can carry (so a
  value with fewer brackets than it, nearly every value, is decoded without looking further).

Depth counts containers: `1` has depth 0, `{"a": 1}` depth 1, `{"a": [1]}` depth 2. Every check here
is iterative (no recursion, whatever the nesting), and the common case costs a couple of C-speed scans.
"""

import json
import re
from array import array
from collections.abc import Iterator
from itertools import accumulate
from typing import Any

MAX_BODY_DEPTH = 32
MAX_READ_DEPTH = 128
DEPTH_MESSAGE = "nested deeper than {limit} levels of JSON arrays and objects"

_SPLIT_MAX = 2**16
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # as signed bytes: +1 opens, -1 closes
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}:,]|[^\s"\[\]{}:,]+')
_OPEN = frozenset(b"[{")
_CLOSE = frozenset(b"]}")


def nesting_depth(text: bytes) -> int:
    """The deepest nesting of a JSON text, without decoding it (strings removed, then a running sum of
    the brackets). A malformed text gets some number: its parser will refuse it anyway."""
    if b'"' in text:  # without an escaped quote, every other piece between quotes is a string (a split is
        # fast but costs an object per piece: large texts go through the regular expression)
        small = len(text) <= _SPLIT_MAX and b'\\"' not in text
        text = b"".join(text.split(b'"')[::2]) if small else _STRING.sub(b"", text)
    brackets = text.translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(0, max(accumulate(array("b", brackets.translate(_STEPS)))))


def nesting_exceeds(text: bytes, limit: int) -> bool:
    """Whether a JSON text nests deeper than `limit`; a text with at most `limit` opening brackets (most
    texts) is answered by counting them."""
    if text.count(b"[") + text.count(b"{") <= limit:
        return False
    return nesting_depth(text) > limit


def deep_path(text: bytes, limit: int) -> tuple[str, ...] | None:
    """The path (keys and indexes) of the first array or object of a JSON text nested deeper than
    `limit`: `()` when it is the text itself, None when there is none."""
    labels: list[str | int] = []  # per open container: the key or index of the value being read in it
    objects: list[bool] = []
    expect_key = False
    for match in _TOKEN.finditer(text):
        token = match.group()
        first = token[0]
        if first in _OPEN:
            if len(objects) >= limit:
                return tuple(str(label) for label in labels)
            objects.append(first == ord("{"))
            labels.append("" if first == ord("{") else 0)
            expect_key = first == ord("{")
        elif first in _CLOSE:
            if objects:
                objects.pop()
                labels.pop()
            expect_key = False
        elif first == ord(","):
            if objects and objects[-1]:
                expect_key = True
            elif labels:
                labels[-1] = int(labels[-1]) + 1
        elif first == ord('"') and expect_key:
            labels[-1] = _key(token)
            expect_key = False
    return None


def _key(token: bytes) -> str:
    try:
        key = json.loads(token)
    except ValueError:
        return token[1:-1].decode("utf-8", "replace")
    return key if isinstance(key, str) else str(key)


def value_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether a decoded JSON value nests deeper than `limit` (iteratively: any depth is safe)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth + 1 > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def split_array(text: bytes) -> list[bytes] | None:
    """The items of a JSON array, each as its own JSON text, found without decoding them (so an item
    nested too deep for a decoder can still be answered on its own); None when `text` is not an array.

    Only the array's own commas and brackets matter: runs of brackets and of other bytes are taken
    whole, strings skipped."""
    start = len(text) - len(text.lstrip())
    if text[start : start + 1] != b"[":
        return None
    items: list[bytes] = []
    depth = 0
    item_start = start + 1
    for match in _SPLIT.finditer(text, start):
        token = match.group()
        first = token[0]
        if first in _OPEN:
            depth += len(token)
        elif first in _CLOSE:
            if depth - len(token) <= 0:  # this run closes the array (anything after it is trailing text)
                end = match.start() + depth - 1
                last = text[item_start:end]
                if last.strip() or items:
                    items.append(last)
                return items if not text[end + 1 :].strip() else None
            depth -= len(token)
        elif first == ord(",") and depth == 1:
            items.append(text[item_start : match.start()])
            item_start = match.end()
    return None


_SPLIT = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[{]+|[\]}]+|,|[^"\[\]{},]+')


def bounded_loads(text: str | bytes, limit: int = MAX_READ_DEPTH) -> Any:
    """`json.loads` for values read back from the database: a value nested deeper than `limit` keeps its
    first `limit` levels, and each array or object below them is given as its JSON text (a string)."""
    if isinstance(text, str):
        if text.count("[") + text.count("{") <= limit:  # most values: too few brackets to nest that deep
            return json.loads(text)
        data = text.encode()
    else:
        data = text
    if not nesting_exceeds(data, limit):
        return json.loads(text)
    return _clipped(data, limit)


def _clipped(data: bytes, limit: int) -> Any:
    root: list[Any] = []
    containers: list[Any] = []  # the open arrays and objects, outermost first
    keys: list[str | None] = []  # per open object: the key whose value comes next
    expect_key = False
    skipping = 0  # depth inside a part given as text
    skip_from = 0

    def put(value: Any) -> None:
        if not containers:
            root.append(value)
        elif isinstance(containers[-1], list):
            containers[-1].append(value)
        else:
            containers[-1][keys[-1]] = value

    tokens: Iterator[re.Match[bytes]] = _TOKEN.finditer(data)
    for match in tokens:
        token = match.group()
        first = token[0]
        if skipping:
            if first in _OPEN:
                skipping += 1
            elif first in _CLOSE:
                skipping -= 1
                if not skipping:
                    put(data[skip_from : match.end()].decode("utf-8", "replace"))
            continue
        if first in _OPEN:
            if len(containers) >= limit:
                skipping, skip_from = 1, match.start()
                continue
            container: Any = {} if first == ord("{") else []
            put(container)
            containers.append(container)
            keys.append(None)
            expect_key = first == ord("{")
        elif first in _CLOSE:
            containers.pop()
            keys.pop()
            expect_key = False
        elif first == ord(","):
            expect_key = isinstance(containers[-1], dict) if containers else False
        elif first == ord(":"):
            expect_key = False
        elif expect_key:
            keys[-1] = _key(token)
        else:
            put(json.loads(token))
    return root[0] if root else None
