"""glibc allocator thresholds: applied once, switchable off, harmless where glibc is absent."""

from __future__ import annotations

import platform

import pytest

from forgetlab import cpu_memory


@pytest.fixture
def fresh_state(monkeypatch):
    monkeypatch.setattr(cpu_memory, "_state", {})


def test_applies_on_glibc_and_is_idempotent(fresh_state):
    expected = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert cpu_memory.retain_freed_memory() is expected
    assert cpu_memory.retain_freed_memory() is expected  # second call: cached, no second mallopt


def test_switched_off_by_environment(fresh_state, monkeypatch):
    monkeypatch.setenv("FORGETLAB_MALLOC_TUNING", "0")
    assert cpu_memory.retain_freed_memory() is False
