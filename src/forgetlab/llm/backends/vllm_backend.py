"""vLLM offline engine: GPUs with ``forgetlab[vllm]``, CPUs with vLLM's CPU build.

vLLM is imported lazily, so the rest of forgetlab works without it. Prompts are tokenised
here and passed as token ids, so the BOS and chat-template policies are exactly those of the
``hf`` backend (see :mod:`forgetlab.llm.backends.hf`), and the default dtype is the same too
(float32 on CPU, bfloat16 on GPU), so that greedy outputs of ``vllm:`` and ``hf:`` agree.
``vllm:packaged:NAME`` runs the directory the packaged backend materialises. For more GPUs
than one machine holds, run ``vllm serve MODEL --tensor-parallel-size N`` and use the
``openai-completions:`` / ``openai:`` backends against it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forgetlab.errors import ForgetlabError, one_line
from forgetlab.llm.backends.base import (
    Backend,
    BackendKind,
    GenerationConfig,
    Message,
    ModelIdentity,
)
from forgetlab.llm.backends.vllm_cpu import CpuSettings, apply_cpu, plan_cpu

PIP_HINT = (
    "pip install 'forgetlab[vllm]' on a CUDA machine, or scripts/install-vllm-cpu.sh for "
    "vLLM's CPU build (docs/backends.md)"
)
OPTIONS = frozenset(
    {
        "tensor_parallel_size",
        "gpu_memory_utilization",
        "max_model_len",
        "seed",
        "kv_cache_gib",
        "threads",
        "enforce_eager",
    }
)
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt")
# how vLLM and torch word a start that memory cannot hold
_MEMORY_WORDS = re.compile(
    r"out of memory|available memory|cannot allocate memory|kv.?cache|not enough memory",
    re.IGNORECASE,
)


def import_vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:
        # a vLLM that is present but cannot import (CUDA torchvision beside CPU torch) is
        # named as such: the same install hint would not help
        if getattr(exc, "name", None) in ("vllm", None):
            raise ForgetlabError(f"the vllm backend needs vLLM: {PIP_HINT}") from None
        raise ForgetlabError(
            f"vLLM is installed but cannot be imported ({one_line(exc)}); {PIP_HINT}"
        ) from None
    return vllm


def vllm_platform(vllm: Any) -> str:
    """The device the installed vLLM build runs on: ``"cpu"`` or ``"cuda"`` (or another)."""
    try:
        from vllm.platforms import current_platform
    except ImportError:
        return "cuda"
    return str(getattr(current_platform, "device_type", "") or "cuda")


@dataclass(frozen=True)
class Target:
    """A resolved ``vllm:`` target: what vLLM loads and how the result is identified."""

    name: str
    source: str
    add_bos: bool | None = None  # None: decided from the model type
    revision: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def resolve_target(target: str) -> Target:
    """``packaged:NAME`` becomes its materialised directory; anything else is passed on."""
    if target.startswith("packaged:"):
        from forgetlab.llm.backends.hf import packaged_source

        packaged = packaged_source(target.removeprefix("packaged:"))
        return Target(
            name=target,
            source=str(packaged.model_dir),
            add_bos=packaged.add_bos,
            revision=packaged.revision,
            extra=packaged.extra,
        )
    if Path(target).expanduser().is_dir():
        from forgetlab.llm.backends.hf import weights_digest

        return Target(
            name=target, source=target, revision=weights_digest(Path(target).expanduser())
        )
    return Target(name=target, source=target)


def weights_bytes(source: str) -> int:
    """Size of a local model's weight files (0 for a hub id: unknown before download)."""
    path = Path(source).expanduser()
    if not path.is_dir():
        return 0
    return sum(p.stat().st_size for p in path.iterdir() if p.suffix in _WEIGHT_SUFFIXES)


def check_device(device: str | None) -> str | None:
    """Accept ``cpu``, ``cuda`` or nothing; vLLM picks GPUs itself (CUDA_VISIBLE_DEVICES)."""
    if device is None or device in ("cpu", "cuda"):
        return device
    if device.startswith("cuda:"):
        raise ForgetlabError(
            f"device {device!r}: vLLM uses the GPUs CUDA_VISIBLE_DEVICES shows; pass --device cuda"
        )
    raise ForgetlabError(f"device {device!r} is not supported by vllm (use cpu or cuda)")


def _start_error(source: str, exc: BaseException) -> ForgetlabError:
    """One line for a failed start; memory exhaustion gets the settings that fix it."""
    text = one_line(exc)
    if isinstance(exc, MemoryError) or _MEMORY_WORDS.search(text):
        return ForgetlabError(
            f"vLLM ran out of memory starting {source!r}: {text} (lower kv_cache_gib / "
            "VLLM_CPU_KVCACHE_SPACE or max_model_len on CPU, gpu_memory_utilization on GPU)"
        )
    return ForgetlabError(f"vLLM could not load {source!r}: {text}")


class VLLMBackend(Backend):
    """Greedy/sampled generation with ``vllm.LLM`` behind the common interface."""

    def __init__(
        self,
        source: str,
        *,
        dtype: str | None = None,
        device: str | None = None,
        batch_size: int = 16,
        add_bos: bool | None = None,
        chat_template: bool = True,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float | None = None,
        max_model_len: int | None = None,
        seed: int = 0,
        kv_cache_gib: int | None = None,
        threads: int | None = None,
        enforce_eager: bool = False,
        target: Target | None = None,
    ) -> None:
        from forgetlab.llm.backends.hf import bos_required, dtype_name, resolve_dtype

        device = check_device(device)
        if tensor_parallel_size < 1:
            raise ForgetlabError("tensor_parallel_size must be >= 1")
        if gpu_memory_utilization is not None and not 0 < gpu_memory_utilization <= 1:
            raise ForgetlabError("gpu_memory_utilization must be in (0, 1]")
        target = target or Target(name=source, source=source)
        vllm = import_vllm()
        platform = vllm_platform(vllm)
        if device is not None and device != platform:
            raise ForgetlabError(
                f"device {device!r} requested but the installed vLLM is its {platform} build; "
                f"{PIP_HINT}"
            )
        requested = dtype_name(resolve_dtype(dtype, platform))
        kwargs: dict[str, Any] = {
            "model": target.source,
            "tensor_parallel_size": tensor_parallel_size,
            "seed": seed,
            "dtype": requested,
        }
        cpu: CpuSettings | None = None
        if platform == "cpu":
            for name, value in (("gpu_memory_utilization", gpu_memory_utilization),):
                if value is not None:
                    raise ForgetlabError(f"{name} applies to GPUs; on CPU use kv_cache_gib")
            cpu = plan_cpu(
                weights_bytes=weights_bytes(target.source),
                kv_cache_gib=kv_cache_gib,
                threads=threads,
            )
            apply_cpu(cpu)
        else:
            for name, value in (("kv_cache_gib", kv_cache_gib), ("threads", threads)):
                if value is not None:
                    raise ForgetlabError(f"{name} applies to vLLM's CPU build only")
            kwargs["gpu_memory_utilization"] = gpu_memory_utilization or 0.9
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        if enforce_eager:  # no compilation at load: faster start, maybe slower calls
            kwargs["enforce_eager"] = True
        try:
            self.llm = vllm.LLM(**kwargs)
        except (OSError, ValueError, RuntimeError, MemoryError) as exc:
            raise _start_error(target.source, exc) from None
        self._vllm = vllm
        self.tokenizer = self.llm.get_tokenizer()
        self.target = target
        self.source = target.source
        self.batch_size = batch_size
        self.tensor_parallel_size = tensor_parallel_size
        self.platform = platform
        self.cpu = cpu
        self.gpu_memory_utilization = kwargs.get("gpu_memory_utilization")
        self.enforce_eager = enforce_eager
        model_config = self.llm.llm_engine.model_config
        self.dtype = str(getattr(model_config, "dtype", requested)).removeprefix("torch.")
        self.requested_dtype = requested
        self.max_model_len = getattr(model_config, "max_model_len", None)
        self.hf_config = model_config.hf_config
        model_type = str(getattr(self.hf_config, "model_type", "") or "")
        default_bos = target.add_bos if target.add_bos is not None else bos_required(model_type)
        self.add_bos = default_bos if add_bos is None else add_bos
        self.use_chat_template = chat_template

    @property
    def identity(self) -> ModelIdentity:
        from forgetlab.llm.backends.hf import short_hash

        template = (
            getattr(self.tokenizer, "chat_template", None) if self.use_chat_template else None
        )
        extra: dict[str, Any] = {
            **self.target.extra,
            "device": self.platform,
            "engine": f"vllm {getattr(self._vllm, '__version__', '')} ({self.platform})",
            "vllm": getattr(self._vllm, "__version__", ""),
            "tensor_parallel_size": self.tensor_parallel_size,
            "max_model_len": self.max_model_len,
            "enforce_eager": self.enforce_eager,
        }
        if self.dtype != self.requested_dtype:
            extra["requested_dtype"] = self.requested_dtype
        if self.cpu is not None:
            extra.update(self.cpu.as_dict())
        else:
            extra["gpu_memory_utilization"] = self.gpu_memory_utilization
        for key in ("model_type", "vocab_size"):
            value = getattr(self.hf_config, key, None)
            if value is not None:
                extra[key] = value
        archs = getattr(self.hf_config, "architectures", None)
        if archs:
            extra["architecture"] = ",".join(archs)
        return ModelIdentity(
            backend="vllm",
            name=self.target.name,
            source=self.source,
            revision=self.target.revision,
            dtype=self.dtype,
            add_bos=self.add_bos,
            chat_template=short_hash(template) if isinstance(template, str) else None,
            batch_size=self.batch_size,
            extra=extra,
        )

    def _encode(self, text: str, add_bos: bool) -> list[int]:
        ids = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        bos = self.tokenizer.bos_token_id
        if add_bos and bos is not None and (not ids or ids[0] != bos):
            ids.insert(0, int(bos))
        return ids

    def complete(self, prompts: Sequence[str], config: GenerationConfig) -> list[str]:
        return self._generate([self._encode(p, self.add_bos) for p in prompts], config)

    def chat(
        self, conversations: Sequence[Sequence[Message]], config: GenerationConfig
    ) -> list[str]:
        encoded = []
        for conv in conversations:
            if not self.use_chat_template:
                encoded.append(self._encode("\n\n".join(m["content"] for m in conv), self.add_bos))
                continue
            if not getattr(self.tokenizer, "chat_template", None):
                raise ForgetlabError(
                    f"model {self.source!r} has no chat template; disable it to send raw text"
                )
            text = self.tokenizer.apply_chat_template(
                [dict(m) for m in conv], tokenize=False, add_generation_prompt=True
            )
            encoded.append(self._encode(str(text), False))
        return self._generate(encoded, config)

    def _generate(self, encoded: list[list[int]], config: GenerationConfig) -> list[str]:
        params = self._vllm.SamplingParams(
            temperature=config.temperature,
            max_tokens=config.max_new_tokens,
            stop=list(config.stop) or None,
            seed=config.seed,
        )
        prompts = [{"prompt_token_ids": ids} for ids in encoded]
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        return [out.outputs[0].text for out in outputs]

    def close(self) -> None:
        llm, self.llm = self.llm, None
        shutdown = getattr(getattr(llm, "llm_engine", None), "shutdown", None)
        if callable(shutdown):
            shutdown()


def load_vllm(
    target: str,
    *,
    dtype: str | None,
    device: str | None,
    batch_size: int,
    add_bos: bool | None,
    chat_template: bool,
    **options: Any,
) -> Backend:
    """``vllm:TARGET``: a hub id, a model directory or ``packaged:NAME``."""
    from forgetlab.llm.backends.hf import resolve_dtype

    check_device(device)
    resolve_dtype(dtype, device or "cpu")  # a bad dtype fails before anything loads
    resolved = resolve_target(target)
    return VLLMBackend(
        resolved.source,
        dtype=dtype,
        device=device,
        batch_size=batch_size,
        add_bos=add_bos,
        chat_template=chat_template,
        target=resolved,
        **options,
    )


KIND = BackendKind(load_vllm, OPTIONS)
