"""Rebuild frozen processor states from ``dataclasses.asdict`` snapshots."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


def state_from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a (nested) frozen state dataclass from ``dataclasses.asdict(state)``.

    Args:
        cls: The state dataclass type.
        data: The dict produced by ``dataclasses.asdict`` (possibly after a round trip
            through plain data: lists are turned back into arrays where the field is one).

    Returns:
        A state equal to the one that was snapshotted.
    """
    hints = typing.get_type_hints(cls)
    kwargs = {f.name: _convert(hints[f.name], data[f.name]) for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**kwargs)


def _convert(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        for a in args:
            if dataclasses.is_dataclass(a) and isinstance(value, dict):
                return state_from_dict(a, value)  # type: ignore[arg-type]
        return _convert(args[0], value) if len(args) == 1 else value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return state_from_dict(tp, value)
    if origin is tuple:
        targs = typing.get_args(tp)
        if len(targs) == 2 and targs[1] is Ellipsis:
            return tuple(_convert(targs[0], v) for v in value)
        return tuple(_convert(a, v) for a, v in zip(targs, value, strict=True))
    if origin is np.ndarray or tp is np.ndarray:
        return np.asarray(value)
    return value
