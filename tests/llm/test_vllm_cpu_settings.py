"""KV-cache sizing and thread choice for vLLM's CPU build (no vLLM needed)."""

from __future__ import annotations

import pytest

from forgetlab.errors import ForgetlabError
from forgetlab.llm.backends import vllm_cpu
from forgetlab.llm.backends.vllm_cpu import GIB, apply_cpu, plan_cpu


@pytest.fixture(autouse=True)
def _fresh_exports(monkeypatch):
    monkeypatch.setattr(vllm_cpu, "_exported", {})


def test_auto_plan_takes_a_share_of_free_memory_and_every_cpu():
    plan = plan_cpu(weights_bytes=GIB, env={}, available_bytes=21 * GIB, cpus=2)
    assert (plan.kv_cache_gib, plan.kv_cache_from) == (5, "auto")  # (21 - 1) / 4
    assert (plan.threads, plan.reserved_cpus, plan.threads_from) == (2, 0, "auto")
    assert plan.as_dict()["available_gib"] == 21.0


def test_auto_plan_is_bounded():
    assert plan_cpu(weights_bytes=0, env={}, available_bytes=2 * GIB, cpus=1).kv_cache_gib == 1
    assert plan_cpu(weights_bytes=0, env={}, available_bytes=500 * GIB, cpus=1).kv_cache_gib == 16


def test_user_environment_wins_and_is_recorded():
    env = {"VLLM_CPU_KVCACHE_SPACE": "3", "VLLM_CPU_NUM_OF_RESERVED_CPU": "1"}
    plan = plan_cpu(weights_bytes=0, env=env, available_bytes=20 * GIB, cpus=4)
    assert (plan.kv_cache_gib, plan.kv_cache_from) == (3, "user")
    assert (plan.threads, plan.reserved_cpus, plan.threads_from) == (3, 1, "user")
    apply_cpu(plan, env)
    assert env == {"VLLM_CPU_KVCACHE_SPACE": "3", "VLLM_CPU_NUM_OF_RESERVED_CPU": "1"}


def test_options_beat_the_environment():
    env = {"VLLM_CPU_KVCACHE_SPACE": "3", "VLLM_CPU_NUM_OF_RESERVED_CPU": "0"}
    plan = plan_cpu(
        weights_bytes=0, kv_cache_gib=2, threads=1, env=env, available_bytes=20 * GIB, cpus=2
    )
    assert (plan.kv_cache_gib, plan.kv_cache_from, plan.threads, plan.reserved_cpus) == (
        2,
        "option",
        1,
        1,
    )


def test_exported_values_are_not_taken_for_the_users_own():
    env: dict[str, str] = {}
    first = plan_cpu(weights_bytes=0, threads=1, env=env, available_bytes=20 * GIB, cpus=2)
    apply_cpu(first, env)
    assert env == {"VLLM_CPU_KVCACHE_SPACE": "5", "VLLM_CPU_NUM_OF_RESERVED_CPU": "1"}
    second = plan_cpu(weights_bytes=0, env=env, available_bytes=8 * GIB, cpus=2)
    assert (second.kv_cache_from, second.kv_cache_gib) == ("auto", 2)
    assert (second.threads_from, second.threads) == ("auto", 2)


@pytest.mark.parametrize(
    ("kwargs", "env", "message"),
    [
        ({"kv_cache_gib": 30}, {}, r"not enough memory for vLLM on CPU: a 30 GiB KV cache"),
        ({}, {"VLLM_CPU_KVCACHE_SPACE": "lots"}, r"VLLM_CPU_KVCACHE_SPACE='lots' is not a whole"),
        ({"kv_cache_gib": 0}, {}, r"kv_cache_gib must be >= 1"),
        ({"threads": 3}, {}, r"threads must be between 1 and 2"),
        ({}, {"VLLM_CPU_NUM_OF_RESERVED_CPU": "2"}, r"leaves no CPU of 2"),
    ],
)
def test_impossible_plans_are_one_line_errors(kwargs, env, message):
    with pytest.raises(ForgetlabError, match=message) as err:
        plan_cpu(weights_bytes=GIB, env=env, available_bytes=20 * GIB, cpus=2, **kwargs)
    assert "\n" not in str(err.value)


def test_machine_facts_are_readable():
    assert vllm_cpu.available_memory_bytes() > 0
    assert vllm_cpu.usable_cpus() >= 1
