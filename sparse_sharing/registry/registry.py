"""One registry per component kind, each entry pairing a factory with its pydantic config.

The config class is the single source of truth about what a component accepts: the
experiment schema is a discriminated union of these classes, built from the registries when
it is needed (after plugins are imported), so an unknown key or a wrong type is caught
before anything is built, with the exact config path. A component config may itself name a
component of another kind (the mask search names a pruner): it declares that field with
``Nested(REGISTRY)`` and the field becomes that registry's union when the schema is built.

Each registry holds its kind's contract (``registry.contracts``) and the runtime keywords its
factories are called with. A class registered under it must be concrete, take
``factory(config, **runtime)`` and have every contract method in a form the framework can call
(``registry.signatures``); its config must derive from the kind's base (``ComponentConfig``), so
unknown keys are refused. Whatever a factory builds must meet the contract whole. A plugin that
does not fit fails where it is registered or built, with one message naming the component, the
method, both signatures and the section of docs/plugins.md.
"""
from __future__ import annotations

import difflib
import inspect
import warnings
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Generic, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model
from pydantic_core import PydanticCustomError

from sparse_sharing.errors import ConfigError, PluginError
from sparse_sharing.registry.signatures import (
    Mismatch,
    OldForm,
    check_factory,
    check_methods,
    describe,
    is_protocol,
)
from sparse_sharing.registry.versions import PLUGIN_API_VERSION, PluginDeprecationWarning

T = TypeVar("T")

ENTRY_POINT_GROUP = "sparse_sharing.plugins"
UNKNOWN_COMPONENT = "unknown_component"  # pydantic error type of an unregistered name in a config


class ComponentConfig(BaseModel):
    """Base for every component config: unknown keys are errors, never ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str


class SourceConfig(BaseModel):
    """Base of a config tagged by ``source`` rather than ``type`` (pretrained vectors): unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str


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

    ``runtime`` are the keywords its factories are called with besides the config; ``tag`` is the
    config key that names the component (``type``; ``source`` for pretrained vectors, whose configs
    said so before they were a registry), and ``config_base`` the class every config derives from.
    """

    def __init__(self, kind: str, description: str, contract: type | None = None, tag: str = "type",
                 runtime: tuple[str, ...] = (), config_base: type[BaseModel] = ComponentConfig) -> None:
        self.kind = kind
        self.description = description
        self.contract = contract
        self.tag = tag
        self.runtime = runtime
        self.config_base = config_base
        self._entries: dict[str, Entry] = {}
        self._checked: dict[type, list[OldForm]] = {}  # class → the old forms its methods use
        self._built: dict[type, str] = {}  # class of what a function factory built → its entry's name

    def register(self, name: str, config: type[BaseModel]) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator: register a class or function that is called as ``factory(config, **runtime)``."""
        _check_discriminator(self.kind, self.tag, name, config)
        self._check_config_base(name, config)

        def decorate(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                existing = self._entries[name].factory
                raise PluginError(
                    f"cannot register {_qualified(factory)} as {self.kind} '{name}': "
                    f"that name is already taken by {_qualified(existing)}"
                )
            subject = f"{self.kind} '{name}' ({_qualified(factory)})"
            mismatch = check_factory(factory, self.runtime) if self.contract is not None else None
            if mismatch is not None:
                raise PluginError(self._mismatch_message(subject, mismatch, "factory"))
            if isinstance(factory, type) and self.contract is not None:
                self._check_class(factory, subject)
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
        """Build from a validated config; runtime facts (sizes, vocabularies) come as keywords.

        What a function factory builds is checked like a registered class, once per class; an
        old form of a contract method is adapted on the instance, so the framework's call reaches it.
        """
        entry = self.get(getattr(config, self.tag))
        built = entry.factory(config, **runtime)
        if self.contract is None:
            return built
        subject = f"{self.kind} '{entry.name}' (built by {_qualified(entry.factory)})"
        if not isinstance(built, self.contract):
            missing = [m for m in contract_members(self.contract) if not hasattr(built, m)]
            raise PluginError(self._contract_message(subject, missing))
        if not isinstance(entry.factory, type):
            self._built[type(built)] = entry.name
        for form in self._check_class(type(built), subject):
            setattr(built, form.method, form.adapt(getattr(built, form.method)))
        return built

    def owner(self, obj: Any) -> Entry | None:
        """The entry that built ``obj``: a registered class it is an instance of, or the function that built
        an object of its class."""
        mro = type(obj).__mro__
        classes = [e for e in self.entries() if isinstance(e.factory, type) and e.factory in mro]
        if classes:  # the most derived: a plugin's subclass of a built-in is the plugin's
            return min(classes, key=lambda e: mro.index(e.factory))
        name = self._built.get(type(obj))
        return self._entries.get(name) if name is not None else None

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

    def _check_class(self, klass: type, subject: str) -> list[OldForm]:
        """Refuse a class that cannot serve as this kind (abstract, or a contract method the framework cannot
        call); the old forms its methods use, warned about once."""
        if klass in self._checked:
            return self._checked[klass]
        if inspect.isabstract(klass):
            left = ", ".join(f"`{m}`" for m in sorted(klass.__abstractmethods__))
            raise PluginError(f"{subject} is abstract: it leaves {left} unimplemented, so it cannot be built. "
                              f"Define {'them' if ',' in left else 'it'}; see {self.doc_section}.")
        if not is_protocol(self.contract):
            self._checked[klass] = []
            return []
        mismatches, old_forms = check_methods(self.contract, klass, contract_methods(self.contract))
        if mismatches:
            raise PluginError("; ".join(self._mismatch_message(subject, m) for m in mismatches))
        for form in old_forms:
            _warn_old_form(subject, klass, form, self.contract)
        self._checked[klass] = old_forms
        return old_forms

    def _check_config_base(self, name: str, config: type[BaseModel]) -> None:
        base = self.config_base
        if not issubclass(config, base) or config.model_config.get("extra") != "forbid":
            raise PluginError(
                f"{config.__module__}.{config.__qualname__}, the config of {self.kind} '{name}', must derive from "
                f"sparse_sharing.registry.{base.__name__} and keep its extra='forbid', so that a misspelt key in a "
                f"config is refused instead of ignored; see {self.doc_section}.")

    @property
    def doc_section(self) -> str:
        return f"docs/plugins.md#{self.kind}"

    def _mismatch_message(self, subject: str, mismatch: Mismatch, role: str = "contract") -> str:
        if mismatch.found == "missing":
            return (f"{subject} lacks `{mismatch.method}`, which the {self.kind} contract requires: "
                    f"`{mismatch.expected}`; see {self.doc_section}")
        called = "is called as" if role == "factory" else "has the contract's"
        return (f"{subject}: `{mismatch.found}` cannot take the framework's call; the {self.kind} {role} "
                f"{called} `{mismatch.expected}` (plugin API {PLUGIN_API_VERSION}); see {self.doc_section}")

    def _contract_message(self, subject: str, missing: list[str]) -> str:
        return (f"{subject} does not meet the {self.kind} contract "
                f"(sparse_sharing.registry.contracts.{self.contract.__name__}): it lacks "
                f"{', '.join(f'`{m}`' for m in missing) or 'a required base class'}. See {self.doc_section}.")


def _warn_old_form(subject: str, klass: type, form: OldForm, contract: type) -> None:
    """One warning per class, pointing at the old method's definition in the plugin's file."""
    method = getattr(klass, form.method)
    code = getattr(method, "__code__", None)
    new = describe(form.method, inspect.signature(getattr(contract, form.method)))
    message = (f"{subject}: `{describe(form.method, inspect.signature(method))}` is the form of plugin API "
               f"{form.replaced_in - 1}; since plugin API {form.replaced_in} it is `{new}`. It is adapted for now "
               f"and will be refused in a later release: write the new form (docs/plugins.md#changes).")
    if code is None:
        warnings.warn(message, PluginDeprecationWarning, stacklevel=2)
    else:
        warnings.warn_explicit(message, PluginDeprecationWarning, code.co_filename, code.co_firstlineno,
                               module=klass.__module__)


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
