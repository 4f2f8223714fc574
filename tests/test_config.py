"""Configs: presets < YAML < overrides, and one-line errors naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from forgetlab.config import StrictModel, build_config, parse_overrides, read_yaml
from forgetlab.errors import ForgetlabError
from forgetlab.synthetic.tasks import TaskConfig


class Inner(StrictModel):
    x: int = 1
    y: float = 0.5


class Outer(StrictModel):
    task: TaskConfig = TaskConfig()
    inner: Inner = Inner()


PRESETS = {"small": {"task": {"d": 3}}, "big": {"task": {"d": 30}, "inner": {"x": 7}}}


def test_precedence_preset_then_yaml_then_extra_then_overrides(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("task:\n  d: 5\n  alpha: 0.25\ninner:\n  x: 2\n")
    cfg = build_config(
        Outer, PRESETS, "big", f, ["inner.y=0.75", "task.alpha=0.9"], extra={"inner": {"x": 3}}
    )
    assert cfg.task.d == 5 and cfg.task.alpha == 0.9 and cfg.inner.x == 3 and cfg.inner.y == 0.75


def test_override_values_are_typed() -> None:
    assert parse_overrides(["a.b=3", "a.c=0.5", "d=true", "e=[1, 2]", "f=text"]) == {
        "a": {"b": 3, "c": 0.5},
        "d": True,
        "e": [1, 2],
        "f": "text",
    }


@pytest.mark.parametrize(
    ("overrides", "pattern"),
    [
        (["task.alpha=1.5"], r"task\.alpha: .*less than or equal to 1"),
        (["task.d=0"], r"task\.d: .*greater than 0"),
        (["task.sigma=-1"], r"task\.sigma"),
        (["task.n_points=0"], r"task\.n_points"),
        (["task.pool_size=0"], r"task\.pool_size"),
        (["task.nope=1"], r"task\.nope: unknown field"),
        (["noequals"], r"must look like key.sub=value"),
    ],
)
def test_invalid_values_give_one_line_errors(overrides: list[str], pattern: str) -> None:
    with pytest.raises(ForgetlabError, match=pattern) as info:
        build_config(Outer, PRESETS, None, None, overrides)
    assert "\n" not in str(info.value)


def test_unknown_preset_lists_known_ones() -> None:
    with pytest.raises(ForgetlabError, match=r"unknown preset 'huge' \(known: big, small\)"):
        build_config(Outer, PRESETS, "huge")


def test_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(ForgetlabError, match="missing config file"):
        read_yaml(tmp_path / "missing.yaml")
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ForgetlabError, match=r"latin1\.yaml is not UTF-8 text \(byte 0xe9"):
        read_yaml(latin1)
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: [unclosed\n")
    with pytest.raises(ForgetlabError, match="not valid YAML"):
        read_yaml(bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    with pytest.raises(ForgetlabError, match="must hold a mapping"):
        read_yaml(scalar)
