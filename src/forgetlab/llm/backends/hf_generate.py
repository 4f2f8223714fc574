"""A small batched decoding loop for Hugging Face causal LMs (greedy or seeded sampling).

Why not ``model.generate``: the benchmark needs many short generations (10 new tokens after
a ~120-token prompt), where most of the time goes into the prompt pass and into per-call
overhead. This loop

- runs the prompt pass of a whole batch as one *packed* sequence without padding (each
  prompt attends only to itself, see :mod:`packed`), computing the prefix that all prompts
  share (the task instruction) once, then gathers the keys/values into one left-padded,
  preallocated cache for the token-by-token phase. Models whose attention is not SDPA run
  the prompts one by one instead (``prefill="unpadded"``). Sliding-window models take these
  paths while the whole sequence fits in the window (where the window changes nothing);
  longer sequences and other special caches use a left-padded batch prompt pass
  (``prefill="padded"``);
- sorts prompts by length before batching (results come back in the caller's order);
- passes explicit position ids, so every row sees the positions it would see alone;
- computes logits for the last position of each prompt only (the 49k-262k-word output
  layer would otherwise dominate);
- writes each new token's keys/values in place and drops finished rows from the batch.

The completion is the list of token ids generated after the prompt (never a slice of a
decoded string). Greedy decoding is deterministic; sampling uses a generator seeded per call.
"""

from __future__ import annotations

import inspect
import sys
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch

from forgetlab.llm.backends.packed import (
    MIN_PREFIX,
    gather_left_padded,
    is_plain_dynamic,
    left_padding_mask,
    prefill_packed,
    prefix_cache,
    supports_packing,
)

StopCheck = Callable[[list[int]], bool]
KV = list[tuple[torch.Tensor, torch.Tensor]]  # per layer (keys, values), batch of one
Prefill = Literal["packed", "unpadded", "padded"]


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


def _next_tokens(
    logits: torch.Tensor, temperature: float, generator: torch.Generator | None
) -> torch.Tensor:
    if temperature <= 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    return torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(-1).to(logits.device)


_MERGE_LIMITS: weakref.WeakKeyDictionary[torch.nn.Module, int] = weakref.WeakKeyDictionary()


def merge_limit(model: torch.nn.Module) -> int:
    """Longest sequence (prompt + new tokens) whose cache may be re-padded and merged.

    Probed once per model with a one-token pass (the cache's layer types do not change).
    Plain full-attention caches have no limit. Sliding-window
    layers (Gemma 2/3, Mistral...) behave exactly like full attention while the whole
    sequence fits in the window, so up to the smallest window their keys/values can be kept
    in plain layers too. Anything else (recurrent state, chunked attention...) gives 0.
    """
    if model not in _MERGE_LIMITS:
        _MERGE_LIMITS[model] = _probe_merge_limit(model)
    return _MERGE_LIMITS[model]


@torch.inference_mode()
def _probe_merge_limit(model: torch.nn.Module) -> int:
    from transformers.cache_utils import DynamicLayer, DynamicSlidingWindowLayer

    device = next(model.parameters()).device
    try:
        out = model(input_ids=torch.zeros((1, 1), dtype=torch.long, device=device), use_cache=True)
    except Exception:  # exotic models: use the padded path, which only needs generate-style calls
        return 0
    cache = getattr(out, "past_key_values", None)
    if is_plain_dynamic(cache):
        return sys.maxsize
    layers = list(getattr(cache, "layers", None) or [])
    if not layers or not all(type(x) in (DynamicLayer, DynamicSlidingWindowLayer) for x in layers):
        return 0
    return min(int(x.sliding_window) for x in layers if type(x) is DynamicSlidingWindowLayer)


def cache_is_mergeable(model: torch.nn.Module, longest: int = sys.maxsize) -> bool:
    """True when sequences of ``longest`` tokens can use the unpadded/packed prompt pass."""
    return longest <= merge_limit(model)


def common_prefix_length(prompts: Sequence[Sequence[int]]) -> int:
    """Tokens shared by every prompt, leaving at least one token of each to run."""
    if len(prompts) < 2:
        return 0
    limit = min(len(p) for p in prompts) - 1
    first = prompts[0]
    n = 0
    while n < limit and all(p[n] == first[n] for p in prompts):
        n += 1
    return n


@torch.inference_mode()
def prefill_unpadded(
    model: torch.nn.Module,
    prompts: Sequence[Sequence[int]],
    *,
    keep_last_only: bool = True,
    min_prefix: int = MIN_PREFIX,
) -> tuple[list[KV], torch.Tensor] | None:
    """Run each prompt's prompt pass alone (no padding), reusing a shared prefix's cache.

    All prompts of a benchmark task start with the same instruction; its keys/values are
    computed once. Each prompt then costs exactly its own remaining tokens, with no compute
    wasted on padding. Returns the per-prompt key/value tensors and the last-position logits.
    All layers are kept as plain full-attention layers: for sliding-window models the caller
    must keep sequences within the window (:func:`merge_limit`). Returns ``None`` when the
    model's cache is of another kind (recurrent state...).
    """
    from transformers.cache_utils import DynamicCache

    device = next(model.parameters()).device
    kwargs = {"logits_to_keep": 1} if keep_last_only else {}
    n_prefix = common_prefix_length(prompts)
    if n_prefix < min_prefix:
        n_prefix = 0
    prefix = prefix_cache(model, prompts[0], n_prefix) if n_prefix else None
    if n_prefix and prefix is None:
        return None
    kvs: list[KV] = []
    logits: list[torch.Tensor] = []
    for prompt in prompts:
        ids = torch.tensor([list(prompt[n_prefix:])], device=device)
        positions = torch.arange(n_prefix, len(prompt), device=device)[None]
        # The prefix tensors are never modified in place (updates concatenate), so sharing is safe.
        past = DynamicCache(ddp_cache_data=prefix) if prefix is not None else DynamicCache()
        out = model(
            input_ids=ids, position_ids=positions, past_key_values=past, use_cache=True, **kwargs
        )
        if not is_plain_dynamic(out.past_key_values):
            return None
        kvs.append([(layer.keys, layer.values) for layer in out.past_key_values.layers])
        logits.append(out.logits[0, -1])
    return kvs, torch.stack(logits)


def merge_left_padded(kvs: Sequence[KV]) -> tuple[Any, torch.Tensor]:
    """One left-padded batch cache (and its attention mask) from per-prompt key/value tensors."""
    from transformers.cache_utils import DynamicCache

    lengths = [kv[0][0].shape[-2] for kv in kvs]
    width = max(lengths)
    merged = []
    for layer in range(len(kvs[0])):
        k0, v0 = kvs[0][layer]
        keys = k0.new_zeros((len(kvs), k0.shape[1], width, k0.shape[-1]))
        values = v0.new_zeros((len(kvs), v0.shape[1], width, v0.shape[-1]))
        for row, kv in enumerate(kvs):
            keys[row, :, width - lengths[row] :] = kv[layer][0][0]
            values[row, :, width - lengths[row] :] = kv[layer][1][0]
        merged.append((keys, values))
    return DynamicCache(ddp_cache_data=merged), left_padding_mask(lengths, merged[0][0].device)


@torch.inference_mode()
def prefill_padded(
    model: torch.nn.Module,
    prompts: Sequence[Sequence[int]],
    *,
    pad_id: int,
    keep_last_only: bool = True,
) -> tuple[Any, torch.Tensor, torch.Tensor]:
    """Left-padded batch prompt pass (works for every cache type): cache, logits, mask."""
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
    out = model(
        input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, **kwargs
    )
    return out.past_key_values, out.logits[:, -1, :], mask


def _prefill(
    model: torch.nn.Module,
    prompts: Sequence[Sequence[int]],
    *,
    prefill: Prefill,
    pad_id: int,
    keep_last_only: bool,
    reserve: int,
) -> tuple[Any, torch.Tensor, torch.Tensor]:
    """Prompt pass by the requested strategy, falling back where it does not apply (cache
    that can't be merged, sequence beyond a sliding window, attention other than SDPA):
    decoding cache, last-position logits, attention mask."""
    longest = max(len(p) for p in prompts) + reserve + 1
    if prefill != "padded" and longest <= merge_limit(model):
        if prefill == "packed" and supports_packing(model):
            n_prefix = common_prefix_length(prompts)
            packed = prefill_packed(
                model,
                prompts,
                prefix=n_prefix if n_prefix >= MIN_PREFIX else 0,
                keep_last_only=keep_last_only,
            )
            if packed is not None:
                cache, mask = gather_left_padded(packed, range(len(prompts)), reserve=reserve)
                return cache, packed.logits, mask
        done = prefill_unpadded(model, prompts, keep_last_only=keep_last_only)
        if done is not None:
            kvs, logits = done
            cache, mask = merge_left_padded(kvs)
            return cache, logits, mask
    return prefill_padded(model, prompts, pad_id=pad_id, keep_last_only=keep_last_only)


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
    prefill: Prefill = "packed",
) -> list[list[int]]:
    """Generate up to ``max_new_tokens`` ids for one batch of token-id prompts."""
    if max_new_tokens <= 0 or not prompts:
        return [[] for _ in prompts]
    if any(len(p) == 0 for p in prompts):
        raise ValueError("cannot generate from an empty prompt (no tokens and no BOS)")
    device = next(model.parameters()).device
    cache, logits, mask = _prefill(
        model,
        prompts,
        prefill=prefill,
        pad_id=pad_id,
        keep_last_only=keep_last_only,
        reserve=max_new_tokens - 1,
    )
    last_pos = torch.tensor([len(p) - 1 for p in prompts], device=device)
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
    prefill: Prefill = "packed",
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
            prefill=prefill,
        )
        for i, new in zip(chunk, outs, strict=True):
            results[i] = new
    return results
