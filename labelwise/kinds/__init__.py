"""The model kinds `train.py` trains: one module each, one line each in `KINDS`.

Training (`labelwise.training`), publishing (`labelwise.publishing`), the demo and the viewer read
a kind's [`ModelKind`] from here instead of branching on its name. To add a kind, write
`labelwise/kinds/<name>.py` with a `KIND = ModelKind(...)` and add it below
(docs/DEVELOPING.md, "Adding a model kind").
"""

from __future__ import annotations

from labelwise.kinds import frozen_lame, lame, layerwise, token_classification, vanilla
from labelwise.kinds.base import SAVED_KINDS, ModelKind, PreparedTask, TaskMismatchError

KINDS: dict[str, ModelKind] = {
    module.KIND.name: module.KIND
    for module in (
        lame,
        frozen_lame,
        vanilla,
        layerwise,
        token_classification,
    )
}
"""Every model kind by name, in the order `train.py --help` lists them."""


def get_kind(name: str) -> ModelKind:
    """The kind called `name`; the error lists every kind with its description."""
    try:
        return KINDS[name]
    except KeyError:
        choices = "\n".join(f"  {kind.name:22s} {kind.description}" for kind in KINDS.values())
        raise ValueError(f"Unknown --model {name!r}. Choose one of:\n{choices}") from None


def option_classes() -> list[type]:
    """The kinds' option dataclasses, each once (kinds may share one).

    Raises:
        ValueError: when two classes declare the same option, which would silently keep one default.
    """
    classes: list[type] = []
    owner: dict[str, str] = {}
    declared: dict[str, object] = {}
    for kind in KINDS.values():
        if kind.options is None or kind.options in classes:
            continue
        classes.append(kind.options)
        for name, declaration in kind.options.__dataclass_fields__.items():
            # A field inherited from a shared base class (e.g. DocumentSegmentOptions) is one declaration.
            if name in owner and declared[name] is not declaration:
                raise ValueError(
                    f"Option --{name} is declared by {owner[name]} and by {kind.options.__qualname__} "
                    f"(kind {kind.name!r}); declare it once and share the class, or rename it."
                )
            owner.setdefault(name, kind.options.__qualname__)
            declared[name] = declaration
    return classes


__all__ = ["KINDS", "SAVED_KINDS", "ModelKind", "PreparedTask", "TaskMismatchError", "get_kind", "option_classes"]
