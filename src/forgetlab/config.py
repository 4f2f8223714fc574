"""Typed configuration: pydantic models, named presets, YAML files and CLI overrides.

Every run is described by one pydantic model. A run's config is built from (lowest to
highest precedence) a named preset, an optional YAML file and ``key.sub=value``
overrides, and validation errors become one-line :class:`ForgetlabError` messages that
name the offending field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

import click
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from forgetlab.errors import ForgetlabError

M = TypeVar("M", bound=BaseModel)

SEED_MAX = 2**63 - 1
"""Largest seed every consumer accepts (torch, numpy and Python all take 0 .. 2**63 - 1)."""
Seed = Annotated[int, Field(ge=0, le=SEED_MAX)]
SEED_TYPE = click.IntRange(0, SEED_MAX)
"""The click type of every ``--seed`` option (same range as :data:`Seed`)."""


class StrictModel(BaseModel):
    """Base for every config: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def format_validation_error(err: ValidationError, prefix: str = "") -> str:
    """One line naming each failing field, e.g. ``task.alpha: must be <= 1 (got 1.5)``."""
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "config"
        if prefix:
            loc = f"{prefix}.{loc}"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown field"
        got = e.get("input")
        if got is not None and not isinstance(got, dict | list) and e["type"] != "missing":
            msg = f"{msg} (got {got!r})"
        parts.append(f"{loc}: {msg}")
    return "invalid config: " + "; ".join(parts)


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Recursively merge ``update`` into ``base`` (dicts merge, other values replace)."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """Turn ``["train.steps=100", "task.alpha=0.3"]`` into a nested dict (values parsed as YAML)."""
    result: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ForgetlabError(f"override {item!r} must look like key.sub=value")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        node = result
        parts = key.strip().split(".")
        if not all(parts):
            raise ForgetlabError(f"override {item!r} has an empty key")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ForgetlabError(f"override {item!r} conflicts with another override")
        node[parts[-1]] = value
    return result


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, turning every failure into a one-line error."""
    from forgetlab.results import read_text_file

    p = Path(path)
    text = read_text_file(p, "config file")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ForgetlabError(f"config file {p} is not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ForgetlabError(f"config file {p} must hold a mapping, not {type(data).__name__}")
    return data


def validate(model: type[M], data: Mapping[str, Any]) -> M:
    """Validate ``data`` as ``model``; errors become one-line :class:`ForgetlabError`."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as err:
        raise ForgetlabError(format_validation_error(err)) from None


def build_config(
    model: type[M],
    presets: Mapping[str, Mapping[str, Any]],
    preset: str | None = None,
    config_file: str | Path | None = None,
    overrides: Iterable[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> M:
    """Preset < YAML file < ``extra`` (typed CLI flags) < ``key=value`` overrides."""
    data: dict[str, Any] = {}
    if preset is not None:
        if preset not in presets:
            known = ", ".join(sorted(presets))
            raise ForgetlabError(f"unknown preset {preset!r} (known: {known})")
        data = deep_merge(data, presets[preset])
    if config_file is not None:
        data = deep_merge(data, read_yaml(config_file))
    if extra:
        data = deep_merge(data, extra)
    data = deep_merge(data, parse_overrides(overrides))
    return validate(model, data)
