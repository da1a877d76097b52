"""JSON merge patch (RFC 7396) of a definition's top-level fields, validated as the full body would be."""

from collections.abc import Mapping
from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

InputT = TypeVar("InputT", bound=BaseModel)


def merge_patch(schema: type[InputT], current: Mapping[str, Any], patch: Mapping[str, Any]) -> InputT:
    """The body `schema` gets when `patch` is applied to `current` (both in the shape of that body).

    A field in the patch replaces the current value whole (lists and maps are not merged item by item);
    null removes it, so it takes its default, or is reported missing when the body requires it. The result
    is validated as a request body: a 422 names the field at fault exactly as the create/replace would,
    and an unknown field is refused, never ignored.
    """
    document = dict(current)
    for name, value in patch.items():
        if value is None and name in schema.model_fields:
            document.pop(name, None)
        else:
            document[name] = value
    try:
        return schema.model_validate(document)
    except ValidationError as err:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in err.errors(include_url=False)]
        ) from None
