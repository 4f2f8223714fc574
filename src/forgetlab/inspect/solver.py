"""``conjugate(transform)``: conjugate prompting as an Inspect solver.

The user message is moved into the transform's space (``s``), the model answers there, and
its completion is read back with the transform's inverse (``s⁻¹``) before the task's own
scorer sees it. The raw completion stays in the sample's metadata under ``conjugate``.
"""

from __future__ import annotations

from typing import Any

from inspect_ai.solver import Generate, Solver, TaskState, solver

from forgetlab.errors import ForgetlabError


@solver
def conjugate(transform: str) -> Solver:
    """Transform the last user message with ``transform`` (a forgetlab transform spec such as
    ``leetspeak``, ``piglatin``, ``rot13``, ``base64``, ``apertium:eng-spa``), generate, and
    map the completion back with the inverse."""
    from forgetlab.llm.transforms import get_transform

    tr = get_transform(transform)
    if not tr.invertible:
        raise ForgetlabError(f"transform {transform!r} has no inverse; conjugate() needs one")

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        message = state.user_prompt
        original_prompt = message.text
        message.text = tr.forward(original_prompt)
        state = await generate(state)
        raw = state.output.completion
        mapped = tr.inverse(raw)
        record: dict[str, Any] = {
            "transform": transform,
            "description": tr.describe(),
            "prompt": original_prompt,
            "transformed_prompt": message.text,
            "completion": raw,
            "completion_mapped": mapped,
        }
        state.metadata["conjugate"] = record
        state.output.completion = mapped
        return state

    return solve
