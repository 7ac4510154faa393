"""The one schema of dis-seg's configs: the type and range of every key of the train, evaluate,
predict and diagnose configs, checked before a run creates anything.

Each config is a pydantic model that forbids keys it does not know, so a key added to a YAML
file without its place here is refused by the tests that validate every shipped config. Values
are read as Hydra composed them (no coercion: ``seed=abc`` is a string, not a seed). Nodes that
are instantiated and check their own arguments (``trainer``, ``logger``, ``callbacks``) are
taken as they are; the Trainer is built before the run by :mod:`dis_seg.runs.preflight`.

:func:`validate` raises :class:`~dis_seg.errors.ConfigError` with one line naming the first
key at fault and what was expected, e.g. ``data.batch_size: expected an integer ≥ 1, got 0``.
"""

from __future__ import annotations

import difflib
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from pydantic import ValidationError

from dis_seg.errors import ConfigError
from dis_seg.runs.schema.nodes import SCHEMAS
from dis_seg.runs.schema.values import MISSING, Unresolved

__all__ = ["SCHEMAS", "dotted_keys", "resolved", "validate"]


def validate(cfg: DictConfig, app: str) -> None:
    """Raise :class:`~dis_seg.errors.ConfigError` naming the first key of ``cfg`` (the task
    config of ``app``: ``train``, ``evaluate``, ``predict`` or ``diagnose``) that breaks its
    schema."""
    container = resolved(cfg)
    try:
        SCHEMAS[app].model_validate(container)
    except ValidationError as error:
        raise ConfigError(_first_problem(error, container)) from None
    for key, value in _leaves(container):
        if isinstance(value, Unresolved):
            raise ConfigError(f"{key}: cannot be resolved ({value.reason})")


def resolved(cfg: DictConfig) -> dict[str, Any]:
    """``cfg`` as plain values, every interpolation resolved, a missing value (``???``) kept
    as such; an interpolation that cannot be resolved becomes :class:`Unresolved`, except one
    that reads Hydra's runtime outside a run (left as written)."""
    raw = OmegaConf.to_container(cfg, resolve=False)

    def walk(node: Any, prefix: str) -> Any:
        if isinstance(node, dict):
            return {name: walk(value, f"{prefix}{name}.") for name, value in node.items()}
        key = prefix[:-1]
        if node == MISSING:
            return node
        try:
            value = OmegaConf.select(cfg, key, throw_on_missing=False)
            return (
                OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
            )
        except OmegaConfBaseException as error:
            if "HydraConfig was not set" in str(error):
                return node
            return Unresolved(str(error).splitlines()[0])

    return walk(raw, "")


def _first_problem(error: ValidationError, container: dict[str, Any]) -> str:
    """One line for the first error pydantic found: the dotted key, then what is wrong."""
    problem = error.errors(include_url=False)[0]
    location = [str(part) for part in problem["loc"]]
    key = ".".join("_target_" if part == "target" else part for part in location)
    kind = problem["type"]
    if kind == "extra_forbidden":
        return f"{key}: unknown key; {_guess(key, container)}"
    if kind == "missing":
        return f"{key}: missing; set it ({key}=...)"
    if kind == "inconsistent":
        return f"{key}.{problem['msg']}" if key else problem["msg"]
    cause = problem.get("ctx", {}).get("error")
    message = str(cause) if cause is not None else problem["msg"]
    if message == MISSING:
        return f"{key}: missing; set it on the command line ({key}=...)"
    return f"{key}: {message}"


def _guess(key: str, container: dict[str, Any]) -> str:
    """``did you mean X?`` for an unknown dotted key, from the keys the config has."""
    known = [other for other in dotted_keys(container) if other != key]
    guesses = difflib.get_close_matches(key, known, n=3)
    return f"did you mean {' or '.join(guesses)}?" if guesses else "--cfg job lists the keys"


def _leaves(node: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted key, value) of every leaf of a config container."""
    if not isinstance(node, dict) or not node:
        return [(prefix[:-1], node)] if prefix else []
    return [leaf for name, value in node.items() for leaf in _leaves(value, f"{prefix}{name}.")]


def dotted_keys(node: Any) -> list[str]:
    """Every leaf key of a config container, dotted."""
    return [key for key, _ in _leaves(node)]
