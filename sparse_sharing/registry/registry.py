"""One registry per component kind, each entry pairing a factory with its pydantic config.

The config class is the single source of truth about what a component accepts: the
experiment schema is a discriminated union of these classes, so an unknown key or a
wrong type is caught before anything is built, with the exact config path.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Callable, Generic, Literal, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict

from sparse_sharing.errors import ConfigError

T = TypeVar("T")


class ComponentConfig(BaseModel):
    """Base for every component config: unknown keys are errors, never ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str


@dataclass(frozen=True)
class Entry:
    name: str
    factory: Callable[..., Any]
    config: type[ComponentConfig]


def nearest(name: str, options: list[str]) -> str | None:
    """The closest option to a misspelt name, if any is close enough to be a plausible typo."""
    matches = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    return matches[0] if matches else None


def did_you_mean(name: str, options: list[str]) -> str:
    guess = nearest(name, options)
    return f" Did you mean '{guess}'?" if guess else ""


class Registry(Generic[T]):
    """Names to (factory, config class) for one kind of component."""

    def __init__(self, kind: str, description: str) -> None:
        self.kind = kind
        self.description = description
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, config: type[ComponentConfig]) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator: register a class or function that is called as ``factory(config, **runtime)``."""
        _check_discriminator(self.kind, name, config)

        def decorate(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                existing = self._entries[name].factory
                raise ValueError(
                    f"Cannot register {factory.__module__}.{factory.__qualname__} as {self.kind} '{name}': "
                    f"that name is already taken by {existing.__module__}.{existing.__qualname__}."
                )
            self._entries[name] = Entry(name, factory, config)
            return factory

        return decorate

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[Entry]:
        return [self._entries[n] for n in self.names()]

    def get(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            registered = ", ".join(self.names()) or "(none)"
            raise ConfigError(
                f"'{name}' is not a registered {self.kind}. Registered: {registered}.{did_you_mean(name, self.names())}"
            ) from None

    def config_types(self) -> list[type[ComponentConfig]]:
        return [e.config for e in self.entries()]

    def build(self, config: ComponentConfig, **runtime: Any) -> T:
        """Build from a validated config; runtime facts (sizes, vocabularies) come as keywords."""
        return self.get(config.type).factory(config, **runtime)


def _check_discriminator(kind: str, name: str, config: type[ComponentConfig]) -> None:
    field = config.model_fields.get("type")
    annotation = field.annotation if field else None
    if get_origin(annotation) is not Literal or get_args(annotation) != (name,):
        raise ValueError(
            f"{config.__name__} is registered as {kind} '{name}', so its field must be declared "
            f"`type: Literal[\"{name}\"]`."
        )
