"""Whether a component can be called the way the framework calls it, checked when it registers.

A method of a contract names the arguments the framework passes: its required parameters go by
position, its optional ones by keyword (``reader.read(path, with_tags=False)``). A component's
method fits when both calls bind to its signature, whatever names it gives the positional
parameters, and whatever it adds with defaults, ``*args`` or ``**kwargs``. A factory fits when
``factory(config, **runtime)`` binds, the runtime keywords being its kind's. Checking this when
a class registers turns a plugin written against another contract into one message at start-up
instead of a ``TypeError`` one epoch into training.

A method whose contract changed keeps working in its old form (``OLD_FORMS``) for a while: it
passes the check, and ``adapt`` wraps it on each built instance so that the framework's new
call reaches it.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import sparse_sharing.registry.contracts as contracts

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


@dataclass(frozen=True)
class OldForm:
    """A contract method's signature from an earlier plugin API that is still accepted."""

    contract: type
    method: str
    arguments: int  # the positional arguments the old form takes
    replaced_in: int  # the plugin API version that changed it
    adapt: Callable[[Callable[..., Any]], Callable[..., Any]]  # the old bound method → a callable of the new form


def _drop_step_and_epoch(next_task: Callable[[], str]) -> Callable[[int, int], str]:
    def adapted(step: int, epoch: int) -> str:
        return next_task()

    return adapted


OLD_FORMS: tuple[OldForm, ...] = (
    # Plugin API 1 (sparse-sharing before the written contracts): the sampler was not told where training is.
    OldForm(contracts.TaskSamplerContract, "next_task", 0, 2, _drop_step_and_epoch),
)


@dataclass(frozen=True)
class Mismatch:
    """A method (or the factory) that cannot take the framework's call."""

    method: str
    found: str  # its signature, or why there is none
    expected: str  # the contract's


@dataclass(frozen=True)
class Call:
    """How the framework calls something: positional arguments, then keywords each passed on its own."""

    positional: int
    keywords: tuple[str, ...]

    def binds(self, signature: inspect.Signature, has_self: bool) -> bool:
        args = [None] * (self.positional + has_self)
        try:
            signature.bind(*args)
            for keyword in self.keywords:
                signature.bind(*args, **{keyword: None})
        except TypeError:
            return False
        return True


def is_protocol(contract: type) -> bool:
    """Written contracts are Protocols; a base-class contract (torch's Optimizer) is checked by isinstance."""
    return bool(getattr(contract, "_is_protocol", False))


def contract_call(contract: type, method: str) -> Call:
    parameters = list(inspect.signature(getattr(contract, method)).parameters.values())[1:]  # without self
    required = [p for p in parameters if p.kind in _POSITIONAL and p.default is p.empty]
    return Call(len(required), tuple(p.name for p in parameters if p.default is not p.empty))


def check_methods(contract: type, target: Any, methods: Sequence[str]) -> tuple[list[Mismatch], list[OldForm]]:
    """``target``'s (a class's or an instance's) contract methods that do not fit, and the old forms it uses.

    A method it lacks is a mismatch too; one defined as something other than a function (a
    property, a C method without a signature) is not checked.
    """
    mismatches: list[Mismatch] = []
    old_forms: list[OldForm] = []
    for name in methods:
        if not inspect.isfunction(getattr(contract, name)):  # a property: an attribute to the caller
            continue
        expected = describe(name, inspect.signature(getattr(contract, name)))
        if not callable(getattr(target, name, None)):
            mismatches.append(Mismatch(name, "missing", expected))
            continue
        found = _signature(target, name)
        if found is None:
            continue
        signature, has_self = found
        if contract_call(contract, name).binds(signature, has_self):
            continue
        old = next((f for f in OLD_FORMS if issubclass(contract, f.contract) and f.method == name
                    and Call(f.arguments, ()).binds(signature, has_self)), None)
        if old is not None:
            old_forms.append(old)
        else:
            mismatches.append(Mismatch(name, describe(name, signature), expected))
    return mismatches, old_forms


def check_factory(factory: Callable[..., Any], runtime: Sequence[str]) -> Mismatch | None:
    """Whether ``factory(config, **runtime)`` binds to the factory's (or the class's constructor's) signature."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # a builtin without a signature: nothing to compare
        return None
    if _binds_all(signature, runtime):
        return None
    name = "__init__" if isinstance(factory, type) else getattr(factory, "__name__", "factory")
    expected = f"{name}({'self, ' if isinstance(factory, type) else ''}config{''.join(f', {k}' for k in runtime)})"
    return Mismatch(name, describe(name, signature, self_first=isinstance(factory, type)), expected)


def _binds_all(signature: inspect.Signature, runtime: Sequence[str]) -> bool:
    try:
        signature.bind(None, **{keyword: None for keyword in runtime})
    except TypeError:
        return False
    return True


def _signature(target: Any, name: str) -> tuple[inspect.Signature, bool] | None:
    """The method's signature and whether a ``self`` comes first in it (a class's plain function)."""
    has_self = False
    if isinstance(target, type):
        static = inspect.getattr_static(target, name, None)
        has_self = inspect.isfunction(static)
    try:
        return inspect.signature(getattr(target, name)), has_self
    except (TypeError, ValueError):
        return None


def describe(name: str, signature: inspect.Signature, self_first: bool = False) -> str:
    """``name(self, step: int, epoch: int) -> str``, annotations as written (not quoted strings)."""
    parts = ["self"] if self_first else []
    previous = None
    for parameter in signature.parameters.values():
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY and previous not in (
                inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_POSITIONAL):
            parts.append("*")
        prefix = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}.get(parameter.kind, "")
        text = prefix + parameter.name
        if parameter.annotation is not parameter.empty:
            text += f": {_annotation(parameter.annotation)}"
        if parameter.default is not parameter.empty:
            text += f" = {parameter.default!r}"
        parts.append(text)
        previous = parameter.kind
    returned = signature.return_annotation
    returns = "" if returned is signature.empty else f" -> {_annotation(returned)}"
    return f"{name}({', '.join(parts)}){returns}"


def _annotation(annotation: Any) -> str:
    return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)
