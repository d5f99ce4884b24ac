"""A posted form read into its body model, each field's limit taken from the model's own definition."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.datastructures import FormData

B = TypeVar("B", bound=BaseModel)

LINE = 200
"""The longest value typed into a one-line box whose model has no length of its own (a rate, a duration, a date,
a choice, a name): the model or parser behind it checks it again."""
LONG = 2000
"""The longest list of partner codes, or page to come back to after signing in."""


@cache
def max_length(model: type[BaseModel], field: str) -> int | None:
    """The field's max_length as the model defines it (for an optional field, its non-null form's)."""
    schema = model.model_json_schema()["properties"][field]
    for form in (schema, *schema.get("anyOf", ())):
        if "maxLength" in form:
            return int(form["maxLength"])
    return None


def limit(model: type[BaseModel], field: str) -> int:
    """How long the field's text may be in a form: its model's bound, else one line's."""
    return max_length(model, field) or LINE


def read_form(model: type[B], form: FormData, parse: Mapping[str, Callable[[str], Any]]) -> B:
    """The model's fields from the form: text stripped, an empty optional field left out, and a field in `parse`
    read by its function first. A value over its limit is refused as FastAPI refuses a form field (a 422)."""
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        sent = form.get(name)
        text = sent if isinstance(sent, str) else ""
        if len(text) > limit(model, name):
            raise RequestValidationError(
                [
                    {
                        "type": "string_too_long",
                        "loc": ("body", name),
                        "msg": f"String should have at most {limit(model, name)} characters",
                        "input": text,
                        "ctx": {"max_length": limit(model, name)},
                    }
                ]
            )
        text = text.strip()
        if not text and not field.is_required() and field.default is None:
            continue
        values[name] = parse[name](text) if name in parse else text
    return model.model_validate(values)
