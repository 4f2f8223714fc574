"""A small batched decoding loop for Hugging Face causal LMs (greedy or seeded sampling).

Why not ``model.generate``: the benchmark needs many short generations (10 tokens after a
~120-token prompt), where most of the time goes into the prompt pass and into per-call
overhead. This loop

- sorts prompts by length before batching, so a batch holds prompts of similar length and
  little compute is spent on padding (results are returned in the caller's order);
- left-pads each batch and passes explicit position ids, so every row sees the positions it
  would see alone;
- computes logits for the last position only during the prompt pass (``logits_to_keep=1``;
  the 49k-262k-word output layer would otherwise dominate);
- reuses the key/value cache for every new token and drops finished rows from the batch.

The completion is the list of token ids generated after the prompt (never a slice of a
decoded string). Greedy decoding is deterministic; sampling uses a generator seeded per call.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

import torch

StopCheck = Callable[[list[int]], bool]


def supports_logits_to_keep(model: torch.nn.Module) -> bool:
    """True when ``model.forward`` accepts ``logits_to_keep`` (PEFT wrappers pass it on)."""
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False
    if "logits_to_keep" in params:
        return True
    base = getattr(model, "get_base_model", None)
    return callable(base) and supports_logits_to_keep(base())


def _next_tokens(logits: torch.Tensor, temperature: float, generator: torch.Generator | None) -> torch.Tensor:
    if temperature <= 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    return torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(-1).to(logits.device)


@torch.inference_mode()
def generate_batch(
    model: torch.nn.Module,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    pad_id: int,
    eos_ids: Sequence[int],
    temperature: float = 0.0,
    generator: torch.Generator | None = None,
    stop_check: StopCheck | None = None,
    keep_last_only: bool = True,
) -> list[list[int]]:
    """Generate up to ``max_new_tokens`` ids for one left-padded batch of token-id prompts."""
    if max_new_tokens <= 0 or not prompts:
        return [[] for _ in prompts]
    if any(len(p) == 0 for p in prompts):
        raise ValueError("cannot generate from an empty prompt (no tokens and no BOS)")
    device = next(model.parameters()).device
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt) :] = torch.tensor(list(prompt), dtype=torch.long)
        mask[row, width - len(prompt) :] = 1
    ids, mask = ids.to(device), mask.to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    kwargs = {"logits_to_keep": 1} if keep_last_only else {}
    out = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, **kwargs)
    cache = out.past_key_values
    logits = out.logits[:, -1, :]
    last_pos = positions[:, -1]
    eos = set(int(e) for e in eos_ids)

    generated: list[list[int]] = [[] for _ in prompts]
    alive = list(range(len(prompts)))  # original row of each current batch row
    for step in range(max_new_tokens):
        nxt = _next_tokens(logits, temperature, generator)
        keep: list[int] = []
        for b, tok in enumerate(nxt.tolist()):
            row = alive[b]
            if tok in eos:
                continue
            generated[row].append(tok)
            if stop_check is not None and stop_check(generated[row]):
                continue
            keep.append(b)
        if step == max_new_tokens - 1 or not keep:
            break
        if len(keep) < len(alive):  # drop finished rows: later steps get cheaper
            index = torch.tensor(keep, device=device)
            cache.batch_select_indices(index)
            nxt, mask, last_pos = nxt[index], mask[index], last_pos[index]
            alive = [alive[b] for b in keep]
        mask = torch.cat([mask, mask.new_ones((len(alive), 1))], dim=-1)
        last_pos = last_pos + 1
        out = model(
            input_ids=nxt[:, None],
            attention_mask=mask,
            position_ids=last_pos[:, None],
            past_key_values=cache,
            use_cache=True,
        )
        cache = out.past_key_values
        logits = out.logits[:, -1, :]
    return generated


def generate(
    model: torch.nn.Module,
    prompts: Sequence[Sequence[int]],
    *,
    batch_size: int,
    max_new_tokens: int,
    pad_id: int,
    eos_ids: Sequence[int],
    temperature: float = 0.0,
    seed: int = 0,
    stop_check: StopCheck | None = None,
    sort_by_length: bool = True,
) -> list[list[int]]:
    """Generate for all prompts in length-sorted batches; results in the input order."""
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    order = list(range(len(prompts)))
    if sort_by_length:  # longest first: a batch that runs out of memory does so at once
        order.sort(key=lambda i: -len(prompts[i]))
    generator = torch.Generator().manual_seed(seed) if temperature > 0 else None
    keep_last = supports_logits_to_keep(model)
    results: list[list[int]] = [[] for _ in prompts]
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        outs = generate_batch(
            model,
            [prompts[i] for i in chunk],
            max_new_tokens=max_new_tokens,
            pad_id=pad_id,
            eos_ids=eos_ids,
            temperature=temperature,
            generator=generator,
            stop_check=stop_check,
            keep_last_only=keep_last,
        )
        for i, new in zip(chunk, outs, strict=True):
            results[i] = new
    return results
