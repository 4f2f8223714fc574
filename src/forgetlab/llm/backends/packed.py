"""Packed prompt pass: many prompts in one forward call, each attending only to itself.

Why: on a CPU the prompt pass dominates short generations (10 new tokens after ~120 prompt
tokens), and running it one prompt at a time pays the per-call cost of every layer once
per prompt and runs its matrix products on ~100-row inputs. Concatenating the prompts into
one sequence of a few thousand tokens makes the linear layers a few large matrix products;
only attention has to stay per prompt. That is done by a custom attention function,
registered with transformers' ``AttentionInterface``, that splits the packed sequence into
its prompts and calls transformers' own SDPA attention on each (prompt ``i`` sees the shared
prefix and its own earlier tokens, exactly as when it runs alone). The plan (prefix length,
prompt boundaries) travels in a context variable, so nothing model-specific is patched.

The resulting key/value tensors of all prompts are then gathered into one left-padded,
preallocated batch cache for the token-by-token phase (:class:`PreallocatedLayer`), which
writes new tokens in place instead of concatenating the whole cache at every step.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers.cache_utils import DynamicCache, DynamicLayer

PACKED_ATTENTION = "forgetlab_packed"


@dataclass
class _Plan:
    """Where each prompt of the packed sequence starts, and the shared prefix's length."""

    prefix: int
    segments: list[tuple[int, int]]  # (start in the packed new tokens, length)
    masks: dict[int, torch.Tensor] = field(default_factory=dict)  # by prompt length

    def mask(self, length: int, device: torch.device) -> torch.Tensor:
        """Boolean ``[1, 1, length, prefix + length]``: the whole prefix, then causal."""
        if length not in self.masks:
            causal = torch.ones((length, length), dtype=torch.bool, device=device).tril()
            full = torch.ones((length, self.prefix), dtype=torch.bool, device=device)
            self.masks[length] = torch.cat([full, causal], dim=1)[None, None]
        return self.masks[length]


_PLAN: contextvars.ContextVar[_Plan | None] = contextvars.ContextVar("forgetlab_pack", default=None)


def packed_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """SDPA attention applied prompt by prompt over a packed ``[1, heads, tokens, dim]`` input."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    plan = _PLAN.get()
    if plan is None:  # not inside a packed pass: ordinary attention
        out, _ = sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
        return out, None
    p = plan.prefix
    outs = []
    for start, length in plan.segments:
        q = query[:, :, start : start + length]
        k = key[:, :, p + start : p + start + length]
        v = value[:, :, p + start : p + start + length]
        mask = None
        if p:
            k = torch.cat([key[:, :, :p], k], dim=2)
            v = torch.cat([value[:, :, :p], v], dim=2)
            mask = plan.mask(length, query.device)
        out, _ = sdpa_attention_forward(module, q, k, v, mask, **kwargs)
        outs.append(out)  # [1, length, heads, dim]
    return torch.cat(outs, dim=1), None


def _register() -> None:
    from transformers import AttentionInterface

    if PACKED_ATTENTION not in AttentionInterface._global_mapping:
        AttentionInterface.register(PACKED_ATTENTION, packed_attention)


def _configs(model: torch.nn.Module) -> list[Any]:
    seen: dict[int, Any] = {}
    for module in model.modules():
        config = getattr(module, "config", None)
        if config is not None and hasattr(config, "_attn_implementation"):
            seen.setdefault(id(config), config)
    return list(seen.values())


def supports_packing(model: torch.nn.Module) -> bool:
    """Packing reuses SDPA per prompt, so it applies to models that run SDPA attention."""
    configs = _configs(model)
    return bool(configs) and all(c._attn_implementation == "sdpa" for c in configs)


@contextlib.contextmanager
def _packed(model: torch.nn.Module, plan: _Plan) -> Iterator[None]:
    _register()
    configs = _configs(model)
    saved = [c._attn_implementation for c in configs]
    token = _PLAN.set(plan)
    try:
        for c in configs:
            c._attn_implementation = PACKED_ATTENTION
        yield
    finally:
        for c, impl in zip(configs, saved, strict=True):
            c._attn_implementation = impl
        _PLAN.reset(token)


@dataclass
class PackedPrefill:
    """Result of :func:`prefill_packed`: packed keys/values and each prompt's place in them."""

    keys: list[list[torch.Tensor]]  # [pack][layer] -> [1, kv_heads, prefix + pack tokens, dim]
    values: list[list[torch.Tensor]]
    where: list[tuple[int, int]]  # per prompt: (pack, start of its own tokens in the pack)
    prefix: int
    lengths: list[int]  # full prompt lengths (prefix included)
    logits: torch.Tensor  # [prompts, vocab], last position of each prompt


def _split_packs(lengths: Sequence[int], max_tokens: int) -> list[list[int]]:
    packs: list[list[int]] = [[]]
    used = 0
    for i, n in enumerate(lengths):
        if packs[-1] and used + n > max_tokens:
            packs.append([])
            used = 0
        packs[-1].append(i)
        used += n
    return packs


MIN_PREFIX = 4  # a shared prefix shorter than this is not worth a separate pass


@torch.inference_mode()
def prefix_cache(
    model: torch.nn.Module, prompt: Sequence[int], n: int
) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
    """Per-layer keys/values of ``prompt[:n]`` (the prefix every prompt of a batch shares),
    in plain layers; ``None`` when the model's cache is of another kind."""
    device = next(model.parameters()).device
    ids = torch.tensor([list(prompt[:n])], device=device)
    cache = model(input_ids=ids, past_key_values=DynamicCache(), use_cache=True).past_key_values
    if not is_plain_dynamic(cache):
        return None
    return [(layer.keys, layer.values) for layer in cache.layers]


def left_padding_mask(lengths: Sequence[int], device: torch.device) -> torch.Tensor:
    """``[rows, max(lengths)]`` attention mask: zeros for the left padding, ones after it."""
    width = max(lengths)
    mask = torch.zeros((len(lengths), width), dtype=torch.long, device=device)
    for row, n in enumerate(lengths):
        mask[row, width - n :] = 1
    return mask


@torch.inference_mode()
def prefill_packed(
    model: torch.nn.Module,
    prompts: Sequence[Sequence[int]],
    *,
    prefix: int,
    keep_last_only: bool = True,
    max_tokens: int = 4096,
) -> PackedPrefill | None:
    """Prompt pass of all ``prompts`` in packs of at most ``max_tokens`` new tokens.

    The first ``prefix`` tokens (shared by every prompt) run once; every pack continues
    from their cache. All layers are kept as plain full-attention layers: for sliding-window
    models the caller must keep sequences within the window (``hf_generate.merge_limit``).
    Returns ``None`` when the model's cache is of another kind.
    """
    device = next(model.parameters()).device
    prefix_kv = prefix_cache(model, prompts[0], prefix) if prefix else None
    if prefix and prefix_kv is None:
        return None
    own = [len(p) - prefix for p in prompts]
    packs = _split_packs(own, max_tokens)
    keys: list[list[torch.Tensor]] = []
    values: list[list[torch.Tensor]] = []
    where: list[tuple[int, int]] = [(0, 0)] * len(prompts)
    rows: list[torch.Tensor] = []
    for pack_no, members in enumerate(packs):
        segments, start = [], 0
        for i in members:
            segments.append((start, own[i]))
            where[i] = (pack_no, start)
            start += own[i]
        ids = torch.tensor([[t for i in members for t in prompts[i][prefix:]]], device=device)
        positions = torch.cat([torch.arange(prefix, prefix + own[i]) for i in members])[None]
        last = torch.tensor([s + n - 1 for s, n in segments], device=device)
        past = DynamicCache(ddp_cache_data=prefix_kv) if prefix_kv is not None else DynamicCache()
        kwargs = {"logits_to_keep": last} if keep_last_only else {}
        with _packed(model, _Plan(prefix, segments)):
            out = model(
                input_ids=ids,
                position_ids=positions.to(device),
                past_key_values=past,
                use_cache=True,
                **kwargs,
            )
        if not is_plain_dynamic(out.past_key_values):
            return None
        keys.append([layer.keys for layer in out.past_key_values.layers])
        values.append([layer.values for layer in out.past_key_values.layers])
        pack_logits = out.logits[0] if keep_last_only else out.logits[0, last]
        rows.append(pack_logits)
    order = [i for members in packs for i in members]
    stacked = torch.cat(rows)
    logits = torch.empty_like(stacked)
    logits[torch.tensor(order, device=stacked.device)] = stacked
    return PackedPrefill(keys, values, where, prefix, [len(p) for p in prompts], logits)


def is_plain_dynamic(cache: Any) -> bool:
    """True for a cache of plain full-attention layers, whose tensors we may re-pad and merge."""
    layers = list(getattr(cache, "layers", None) or [])
    return (
        type(cache) is DynamicCache
        and bool(layers)
        and all(type(x) is DynamicLayer for x in layers)
    )


class PreallocatedLayer(DynamicLayer):
    """A full-attention cache layer with room reserved for the tokens still to come.

    ``DynamicLayer`` concatenates the whole cache at every new token; this one writes the
    new keys/values into spare capacity and hands out views, growing only if it runs out.
    """

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, length: int) -> None:
        super().__init__()
        self._k, self._v, self._len = keys, values, length
        self.dtype, self.device = keys.dtype, keys.device
        self.is_initialized = True
        self._sync()

    def _sync(self) -> None:
        self.keys = self._k[:, :, : self._len]
        self.values = self._v[:, :, : self._len]

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        n = key_states.shape[-2]
        if self._len + n > self._k.shape[-2]:  # out of room: double it
            extra = max(n, self._k.shape[-2])
            self._k, self._v = _grown(self._k, extra), _grown(self._v, extra)
        self._k[:, :, self._len : self._len + n] = key_states
        self._v[:, :, self._len : self._len + n] = value_states
        self._len += n
        self._sync()
        return self.keys, self.values  # type: ignore[return-value]

    def get_seq_length(self) -> int:
        return self._len

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self._k, self._v = self._k[indices], self._v[indices]
        self._sync()

    def batch_repeat_interleave(self, repeats: int) -> None:
        self._k = self._k.repeat_interleave(repeats, dim=0)
        self._v = self._v.repeat_interleave(repeats, dim=0)
        self._sync()

    def crop(self, tokens_to_remove: int) -> None:
        if tokens_to_remove > 0:
            raise ValueError("crop takes a negative number of tokens to remove")
        self._len = max(0, self._len + tokens_to_remove)
        self._sync()

    def reset(self) -> None:
        self._len = 0
        self._sync()


def _grown(buf: torch.Tensor, extra: int) -> torch.Tensor:
    """``buf`` with ``extra`` more (unwritten) positions along the sequence axis."""
    return torch.cat([buf, buf.new_empty((*buf.shape[:2], extra, buf.shape[-1]))], dim=2)


def gather_left_padded(
    packed: PackedPrefill, rows: Sequence[int], *, reserve: int
) -> tuple[DynamicCache, torch.Tensor]:
    """A left-padded decoding cache for prompts ``rows`` (in that order), with ``reserve``
    free slots per row, and its ``[rows, width]`` attention mask.

    Padding slots point at a real (finite) key/value of the same row's source and are masked
    out, so attention weights them by exactly zero, as with zero padding.
    """
    p = packed.prefix
    lengths = [packed.lengths[r] for r in rows]
    width = max(lengths)
    n_layers = len(packed.keys[0])
    device = packed.keys[0][0].device
    by_pack: dict[int, list[int]] = {}
    for b, r in enumerate(rows):
        by_pack.setdefault(packed.where[r][0], []).append(b)
    index: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    for pack, members in by_pack.items():
        idx = torch.zeros((len(members), width), dtype=torch.long)
        for j, b in enumerate(members):
            start = p + packed.where[rows[b]][1]
            own = lengths[b] - p
            pad = width - lengths[b]
            idx[j, pad : pad + p] = torch.arange(p)
            idx[j, pad + p :] = torch.arange(start, start + own)
            idx[j, :pad] = start  # any real position of this row: masked out
        index[pack] = (idx.flatten().to(device), torch.tensor(members, device=device))
    layers = []
    for layer in range(n_layers):
        k0 = packed.keys[0][layer]
        heads, dim = k0.shape[1], k0.shape[-1]
        bufs = []
        for source in (packed.keys, packed.values):
            buf = k0.new_empty((len(rows), heads, width + reserve, dim))
            for pack, (flat, member_rows) in index.items():
                got = source[pack][layer][0].index_select(1, flat)  # [heads, m * width, dim]
                got = got.view(heads, len(member_rows), width, dim).transpose(0, 1)
                buf[member_rows, :, :width] = got
            bufs.append(buf)
        layers.append(PreallocatedLayer(bufs[0], bufs[1], width))
    cache = DynamicCache()
    cache.layers = layers  # type: ignore[assignment]
    cache.layer_class_to_replicate = None
    return cache, left_padding_mask(lengths, device)
