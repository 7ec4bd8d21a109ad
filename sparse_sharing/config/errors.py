"""Pydantic validation errors rewritten for the person editing the config file.

Pydantic reports locations in its own terms (union tags and member class names inside the
path, "Extra inputs are not permitted"); the user needs the dotted path they can find in
their file, or pass to ``-o``, and for a typo the key they probably meant. Finding that key
needs the schema, so the location is walked through the model class alongside the error.
"""
from __future__ import annotations

import re
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from sparse_sharing.registry.registry import UNKNOWN_COMPONENT, did_you_mean, unknown_name_message

_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}
_QUOTED = re.compile(r"'([^']*)'")
_MAX_INPUT_CHARS = 40


def format_validation_error(
    error: ValidationError,
    model: type[BaseModel] | None = None,
    source: str = "",
) -> str:
    """One line per problem under an ``Invalid config SOURCE:`` header.

    Without ``model`` the paths still print, but union tags stay in them and unknown keys
    come without a suggestion, because both need the schema.
    """
    lines: list[str] = []
    for detail in error.errors():
        line = _format_one(detail, model)
        if line not in lines:  # untagged unions can report the same problem once per member
            lines.append(line)
    header = f"Invalid config {source}:" if source else "Invalid config:"
    return "\n".join([header, *(f"  {line}" for line in lines)])


@dataclass
class _Location:
    """Where a pydantic ``loc`` points, in the user's terms."""

    path: list[str | int]  # loc without union tags and member names
    owner: type[BaseModel] | None  # model holding the last key, whose fields are the valid keys there
    field: str | None  # last model field on the way: names the component kind at a union
    annotation: Any  # type at the end of loc, None once the schema no longer follows the loc
    discriminator: str | None  # tag field of the union at the end of loc, if it is one


def _format_one(detail: Mapping[str, Any], model: type[BaseModel] | None) -> str:
    loc = _locate(model, detail["loc"])
    kind, ctx, value = detail["type"], detail.get("ctx") or {}, detail["input"]
    path = list(loc.path)

    if kind == "missing":
        text = "missing required key"
    elif kind == "extra_forbidden":
        allowed = accepted_keys(loc.owner) if loc.owner else []
        key = str(path[-1])
        hint = did_you_mean(key, allowed)
        if not hint and allowed:
            hint = f" Allowed: {', '.join(allowed)}."
        text = f"unknown key.{hint}"
    elif kind == UNKNOWN_COMPONENT:
        path.append(ctx["tag"])
        text = ctx["message"]
    elif kind in ("union_tag_invalid", "union_tag_not_found"):
        path.append(_unquote(ctx["discriminator"]))
        component = loc.field or next((p for p in reversed(loc.path) if isinstance(p, str)), "component")
        if kind == "union_tag_invalid":
            text = unknown_name_message(component, ctx["tag"], _QUOTED.findall(ctx["expected_tags"]))
        else:
            tags = _tags(loc.annotation, loc.discriminator)
            text = f"missing required key. Registered {component}: {', '.join(tags)}" if tags else "missing required key"
    elif kind in _EXPECTED:
        text = f"expected {_EXPECTED[kind]}, got {_show(value)}"
    elif kind == "literal_error":
        options = _QUOTED.findall(ctx["expected"])
        hint = did_you_mean(str(value), options)
        text = f"expected {ctx['expected']}, got {_show(value)}" + (f".{hint}" if hint else "")
    else:
        message = re.sub(r"^(Value error|Assertion failed), ", "", detail["msg"])
        text = message[:1].lower() + message[1:]
    where = ".".join(str(p) for p in path) or "(top level)"
    return f"{where}: {text}"


def _locate(model: type[BaseModel] | None, loc: Sequence[str | int]) -> _Location:
    location = _Location(path=[], owner=None, field=None, annotation=model, discriminator=None)
    for part in loc:
        annotation, discriminator = _unwrap(location.annotation, location.discriminator)
        location.annotation, location.discriminator, location.owner = None, None, None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            location.owner = annotation
            location.path.append(part)
            field = _field(annotation, part)
            if field is not None:
                location.field = str(part)
                location.annotation, location.discriminator = field.annotation, _tag_field(field)
        elif get_origin(annotation) in (dict, Mapping):
            location.path.append(part)
            location.annotation = (get_args(annotation) or (None, None))[0 if part == "[key]" else 1]
        elif get_origin(annotation) in (list, Sequence, set, frozenset):
            location.path.append(part)
            location.annotation = (get_args(annotation) or (None,))[0]
        elif get_origin(annotation) is tuple:
            location.path.append(part)
            location.annotation = _tuple_item(get_args(annotation), part)
        elif _is_union(annotation):
            member = _member(annotation, discriminator, part)
            if member is None:
                location.path.append(part)
            else:
                location.annotation = member
        else:
            location.path.append(part)
    location.annotation, location.discriminator = _unwrap(location.annotation, location.discriminator)
    return location


def _tuple_item(items: tuple[Any, ...], part: str | int) -> Any:
    if len(items) == 2 and items[1] is Ellipsis:
        return items[0]
    return items[part] if isinstance(part, int) and part < len(items) else None


def _unwrap(annotation: Any, discriminator: str | None) -> tuple[Any, str | None]:
    """Strip ``Annotated`` and ``None`` from a type, keeping any union discriminator found on the way."""
    while True:
        if get_origin(annotation) is Annotated:
            annotation, *metadata = get_args(annotation)
            for item in metadata:
                if isinstance(item, FieldInfo) and _tag_field(item):
                    discriminator = _tag_field(item)
        elif _is_union(annotation) and type(None) in get_args(annotation):
            members = [a for a in get_args(annotation) if a is not type(None)]
            annotation = members[0] if len(members) == 1 else Union[tuple(members)]
        else:
            return annotation, discriminator


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType)


def _tag_field(field: FieldInfo) -> str | None:
    # A callable `Discriminator` maps inputs to tags in code that cannot be read back.
    return field.discriminator if isinstance(field.discriminator, str) else None


def _member(union: Any, discriminator: str | None, part: str | int) -> Any:
    """The union member a loc element selects: by tag when tagged, else by the member's name."""
    for member in get_args(union):
        member, _ = _unwrap(member, None)
        if discriminator:
            if part in _literal_values(member, discriminator):
                return member
        elif part in (getattr(member, "__name__", None), str(member)):
            return member
    return None


def _tags(union: Any, discriminator: str | None) -> list[str]:
    if not (discriminator and _is_union(union)):
        return []
    return [str(tag) for member in get_args(union) for tag in _literal_values(_unwrap(member, None)[0], discriminator)]


def _literal_values(member: Any, field_name: str) -> tuple[Any, ...]:
    if not (isinstance(member, type) and issubclass(member, BaseModel)):
        return ()
    field = member.model_fields.get(field_name)
    if field is None or get_origin(field.annotation) is not Literal:
        return ()
    return get_args(field.annotation)


def _field(model: type[BaseModel], key: str | int) -> FieldInfo | None:
    for name, field in model.model_fields.items():
        if (field.alias or name) == key:
            return field
    return None


def accepted_keys(model: type[BaseModel]) -> list[str]:
    """The keys a config object of ``model`` may have, as written in a config (aliases)."""
    return [field.alias or name for name, field in model.model_fields.items()]


def _unquote(text: str) -> str:
    return text.strip("'\"")


def _show(value: Any) -> str:
    """The offending value as it would look in the config file, kept short."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= _MAX_INPUT_CHARS else text[: _MAX_INPUT_CHARS - 4] + "...'"
