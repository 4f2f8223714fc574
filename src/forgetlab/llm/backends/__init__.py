"""Generation backends behind one interface, chosen by a model spec string.

Spec forms (see docs/backends.md):

- ``packaged:gemma-3-270m``, ``packaged:smollm2-135m-instruct``: offline models from PyPI
- ``hf:<hub id or local dir or .gguf file>``; a bare existing directory or ``.gguf`` path
- ``openai:<model>`` (chat endpoint), ``openai-completions:<model>`` (text endpoint)
- ``vllm:<hub id or local dir>`` (optional extra)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from forgetlab.errors import ForgetlabError
from forgetlab.llm.backends.base import Backend, GenerationConfig, Message, ModelIdentity

__all__ = [
    "Backend",
    "GenerationConfig",
    "Message",
    "ModelIdentity",
    "load_backend",
    "parse_spec",
]

SPEC_HELP = (
    "expected packaged:NAME, hf:HUB_ID_OR_DIR, openai:MODEL, openai-completions:MODEL, "
    "vllm:HUB_ID_OR_DIR, or an existing model directory / .gguf file"
)
_KINDS = ("packaged", "hf", "openai", "openai-completions", "vllm")
_OPTIONS = {
    "hf": {"revision"},
    "packaged": set(),
    "openai": {"base_url", "concurrency", "max_retries", "backoff", "max_backoff", "timeout"},
    "vllm": {"tensor_parallel_size", "gpu_memory_utilization", "max_model_len", "seed"},
}


def parse_spec(spec: str) -> tuple[str, str]:
    """Split a model spec into (kind, target); bare paths become ``hf``."""
    spec = spec.strip()
    kind, sep, target = spec.partition(":")
    if sep and kind in _KINDS:
        if not target:
            raise ForgetlabError(f"model spec {spec!r} names no model; {SPEC_HELP}")
        return kind, target
    path = Path(spec).expanduser()
    if path.is_dir() or (path.suffix == ".gguf" and path.is_file()):
        return "hf", spec
    if path.suffix == ".gguf":
        raise ForgetlabError(f"GGUF file not found: {path}")
    raise ForgetlabError(f"unknown model {spec!r}: {SPEC_HELP}")


def _check_options(kind: str, kw: dict[str, Any]) -> None:
    allowed = _OPTIONS["openai" if kind.startswith("openai") else kind]
    unknown = sorted(set(kw) - allowed)
    if unknown:
        raise ForgetlabError(f"option(s) {', '.join(unknown)} do not apply to {kind}: models")


def load_backend(
    spec: str,
    *,
    dtype: str | None = None,
    device: str | None = None,
    batch_size: int = 16,
    add_bos: bool | None = None,
    chat_template: bool = True,
    **kw: Any,
) -> Backend:
    """Open the model named by ``spec``; user mistakes raise a one-line ForgetlabError.

    ``add_bos=None`` means the backend's default: no BOS (the paper's setting) except for
    models that require one (Gemma); the value used is recorded in ``identity``.
    """
    if batch_size < 1:
        raise ForgetlabError("batch_size must be >= 1")
    kind, target = parse_spec(spec)
    _check_options(kind, kw)
    if kind in ("packaged", "hf"):
        from forgetlab.llm.backends.hf import resolve_device, resolve_dtype

        resolve_dtype(dtype, resolve_device(device))  # bad flags fail before any model loads
    if kind == "packaged":
        from forgetlab.llm.backends.hf import HFBackend
        from forgetlab.llm.backends.packaged import get_packaged, packaged_dir, read_marker

        entry = get_packaged(target)
        model_dir = packaged_dir(target)
        marker = read_marker(model_dir)
        return HFBackend.load(
            str(model_dir),
            name=f"packaged:{target}",
            dtype=dtype,
            device=device,
            batch_size=batch_size,
            add_bos=entry.add_bos if add_bos is None else add_bos,
            chat_template=chat_template,
            # a shipped adapter is identified by its own hash, the base by its GGUF's
            revision="sha256:"
            + str(marker.get("adapter_sha256") or marker.get("gguf_sha256", ""))[:16],
            extra={
                "package": marker.get("distribution", ""),
                "gguf_sha256": marker.get("gguf_sha256", ""),
                **{k: marker[k] for k in ("base", "adapter_sha256") if k in marker},
            },
        )
    if kind == "hf":
        from forgetlab.llm.backends.hf import HFBackend

        return HFBackend.load(
            target,
            name=target,
            dtype=dtype,
            device=device,
            batch_size=batch_size,
            add_bos=add_bos,
            chat_template=chat_template,
            revision=kw.get("revision"),
        )
    if kind in ("openai", "openai-completions"):
        from forgetlab.llm.backends.openai_api import OpenAIBackend

        if dtype or device or add_bos is not None or not chat_template:
            raise ForgetlabError(
                "dtype/device/add_bos/chat_template are decided by the server for openai: models"
            )
        if kind == "openai":
            return OpenAIBackend(target, mode="chat", batch_size=batch_size, **kw)
        return OpenAIBackend(target, mode="completions", batch_size=batch_size, **kw)
    from forgetlab.llm.backends.vllm_backend import VLLMBackend

    if device not in (None, "cuda"):
        raise ForgetlabError("the vllm backend runs on CUDA GPUs only")
    return VLLMBackend(
        target,
        dtype=dtype,
        batch_size=batch_size,
        add_bos=add_bos,
        chat_template=chat_template,
        **kw,
    )
