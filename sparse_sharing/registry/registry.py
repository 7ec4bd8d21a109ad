"""One registry per component kind, each entry pairing a factory with its pydantic config.

The config class is the single source of truth about what a component accepts: the
experiment schema is a discriminated union of these classes, built from the registries when
it is needed (after plugins are imported), so an unknown key or a wrong type is caught
before anything is built, with the exact config path. A component config may itself name a
component of another kind (the mask search names a pruner): it declares that field with
``Nested(REGISTRY)`` and the field becomes that registry's union when the schema is built.

Each registry holds its kind's contract (``registry.contracts``); a class registered under
it must have the contract's methods, and whatever a factory builds must meet it whole, so a
plugin that does not fit fails where it is registered or built, with the names it lacks.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Generic, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model
from pydantic_core import PydanticCustomError

from sparse_sharing.errors import ConfigError, PluginError

T = TypeVar("T")

ENTRY_POINT_GROUP = "sparse_sharing.plugins"
UNKNOWN_COMPONENT = "unknown_component"  # pydantic error type of an unregistered name in a config


class ComponentConfig(BaseModel):
    """Base for every component config: unknown keys are errors, never ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str


@dataclass(frozen=True)
class Entry:
    name: str
    factory: Callable[..., Any]
    config: type[BaseModel]


@dataclass(frozen=True)
class Nested:
    """Marks a component config's field that names a component of ``registry``'s kind.

    Declare it as ``Annotated[ComponentConfig, Nested(PRUNERS)]`` (``| None`` where optional);
    the schema replaces the annotation with the registry's union, plugins' entries included.
    """

    registry: "Registry"


def nearest(name: str, options: list[str]) -> str | None:
    """The closest option to a misspelt name, if any is close enough to be a plausible typo."""
    matches = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    return matches[0] if matches else None


def did_you_mean(name: str, options: list[str]) -> str:
    guess = nearest(name, options)
    return f" Did you mean '{guess}'?" if guess else ""


def unknown_name_message(kind: str, name: str, registered: list[str]) -> str:
    """The one message for a name no registry entry has, wherever it is looked up."""
    listed = ", ".join(registered) or "(none)"
    return (f"'{name}' is not a registered {kind}. Registered: {listed}.{did_you_mean(name, registered)} "
            f"A plugin's {kind} is loaded by --include-package PKG or by an entry point in the group "
            f"'{ENTRY_POINT_GROUP}'.")


class Registry(Generic[T]):
    """Names to (factory, config class) for one kind of component, and the kind's contract.

    ``tag`` is the config key that names the component (``type``; ``source`` for pretrained
    vectors, whose configs said so before they were a registry).
    """

    def __init__(self, kind: str, description: str, contract: type | None = None, tag: str = "type") -> None:
        self.kind = kind
        self.description = description
        self.contract = contract
        self.tag = tag
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, config: type[BaseModel]) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator: register a class or function that is called as ``factory(config, **runtime)``."""
        _check_discriminator(self.kind, self.tag, name, config)

        def decorate(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                existing = self._entries[name].factory
                raise PluginError(
                    f"cannot register {_qualified(factory)} as {self.kind} '{name}': "
                    f"that name is already taken by {_qualified(existing)}"
                )
            if isinstance(factory, type) and self.contract is not None:
                missing = [m for m in contract_methods(self.contract) if not callable(getattr(factory, m, None))]
                if missing:
                    raise PluginError(self._contract_message(f"{_qualified(factory)}, registered as '{name}',",
                                                             missing))
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
            raise ConfigError(unknown_name_message(self.kind, name, self.names())) from None

    def build(self, config: BaseModel, **runtime: Any) -> T:
        """Build from a validated config; runtime facts (sizes, vocabularies) come as keywords."""
        entry = self.get(getattr(config, self.tag))
        built = entry.factory(config, **runtime)
        if self.contract is not None and not isinstance(built, self.contract):
            missing = [m for m in contract_members(self.contract) if not hasattr(built, m)]
            raise PluginError(self._contract_message(
                f"{self.kind} '{entry.name}' (built by {_qualified(entry.factory)})", missing))
        return built

    def union(self) -> Any:
        """The type of a config block naming one of these components, from what is registered now.

        An unregistered name fails before pydantic tries the members, with the registry's message,
        also where only one component is registered (pydantic alone would say "expected 'bilstm'").
        """
        types = [resolve_nested(e.config) for e in self.entries()]
        if not types:
            raise RuntimeError(f"no {self.kind} is registered")
        member = types[0] if len(types) == 1 else Annotated[Union[tuple(types)], Field(discriminator=self.tag)]
        return Annotated[member, BeforeValidator(self._check_registered)]

    def _check_registered(self, value: Any) -> Any:
        name = value.get(self.tag) if isinstance(value, dict) else None
        if isinstance(name, str) and name not in self._entries:
            raise PydanticCustomError(UNKNOWN_COMPONENT, "{message}", {
                "message": unknown_name_message(self.kind, name, self.names()), "tag": self.tag})
        return value

    def _contract_message(self, subject: str, missing: list[str]) -> str:
        return (f"{subject} does not meet the {self.kind} contract "
                f"(sparse_sharing.registry.contracts.{self.contract.__name__}): it lacks "
                f"{', '.join(f'`{m}`' for m in missing) or 'a required base class'}. See docs/plugins.md.")


def contract_members(contract: type) -> list[str]:
    """Names a contract (a Protocol or a base class) requires: its public methods and attributes."""
    names: list[str] = []
    for klass in reversed(contract.__mro__):
        if klass.__module__ in ("typing", "builtins", "abc") or klass is Generic:
            continue
        for name in [*vars(klass).get("__annotations__", {}), *vars(klass)]:
            if not name.startswith("_") and name not in names:
                names.append(name)
    return names


def contract_methods(contract: type) -> list[str]:
    """The contract's methods: what a registered class must define (attributes may come in ``__init__``)."""
    return [n for n in contract_members(contract)
            if any(callable(vars(k).get(n)) or isinstance(vars(k).get(n), property) for k in contract.__mro__)]


def resolve_nested(config: type[BaseModel]) -> type[BaseModel]:
    """``config`` with every ``Nested`` field typed as its registry's current union (recursively)."""
    fields: dict[str, Any] = {}
    for name, field in config.model_fields.items():
        nested = [m for m in field.metadata if isinstance(m, Nested)]
        if not nested:
            continue
        union = nested[0].registry.union()
        optional = type(None) in get_args(field.annotation)
        keep = {"description": field.description}
        info = (Field(default_factory=field.default_factory, **keep) if field.default_factory is not None
                else Field(field.default, **keep))
        fields[name] = (union | None if optional else union, info)
    if not fields:
        return config
    return create_model(config.__name__, __base__=config, __module__=config.__module__,
                        **fields)


def _check_discriminator(kind: str, tag: str, name: str, config: type[BaseModel]) -> None:
    field = config.model_fields.get(tag)
    annotation = field.annotation if field else None
    if get_origin(annotation) is not Literal or get_args(annotation) != (name,):
        raise PluginError(
            f"{config.__name__} is registered as {kind} '{name}', so its field must be declared "
            f"`{tag}: Literal[\"{name}\"]`."
        )


def _qualified(factory: Callable[..., Any]) -> str:
    return f"{factory.__module__}.{getattr(factory, '__qualname__', repr(factory))}"
