"""vLLM offline engine (optional extra ``forgetlab[vllm]``), for one or several GPUs.

vLLM is imported lazily, so the rest of forgetlab works without it. Prompts are tokenised
here and passed as token ids, so the BOS and chat-template policies are exactly those of the
``hf`` backend (see :mod:`forgetlab.llm.backends.hf`). For more GPUs than one machine holds,
run ``vllm serve MODEL --tensor-parallel-size N`` and use the ``openai-completions:`` /
``openai:`` backends against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from forgetlab.errors import ForgetlabError
from forgetlab.llm.backends.base import (
    Backend,
    BackendKind,
    GenerationConfig,
    Message,
    ModelIdentity,
)
from forgetlab.llm.backends.hf import bos_required, short_hash

PIP_HINT = "pip install 'forgetlab[vllm]' (needs a CUDA GPU)"


def import_vllm() -> Any:
    try:
        import vllm
    except ImportError:
        raise ForgetlabError(f"the vllm backend needs vLLM: {PIP_HINT}") from None
    return vllm


class VLLMBackend(Backend):
    """Greedy/sampled generation with ``vllm.LLM`` behind the common interface."""

    def __init__(
        self,
        source: str,
        *,
        dtype: str | None = None,
        batch_size: int = 16,
        add_bos: bool | None = None,
        chat_template: bool = True,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        seed: int = 0,
    ) -> None:
        vllm = import_vllm()
        if tensor_parallel_size < 1:
            raise ForgetlabError("tensor_parallel_size must be >= 1")
        kwargs: dict[str, Any] = {
            "model": source,
            "tensor_parallel_size": tensor_parallel_size,
            "gpu_memory_utilization": gpu_memory_utilization,
            "seed": seed,
            "dtype": dtype or "auto",
        }
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        try:
            self.llm = vllm.LLM(**kwargs)
        except (OSError, ValueError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ForgetlabError(f"vLLM could not load {source!r}: {first}") from None
        self._vllm = vllm
        self.tokenizer = self.llm.get_tokenizer()
        self.source = source
        self.batch_size = batch_size
        self.tensor_parallel_size = tensor_parallel_size
        self.dtype = dtype or "auto"
        config = self.llm.llm_engine.model_config.hf_config
        model_type = str(getattr(config, "model_type", "") or "")
        self.add_bos = bos_required(model_type) if add_bos is None else add_bos
        self.use_chat_template = chat_template

    @property
    def identity(self) -> ModelIdentity:
        template = (
            getattr(self.tokenizer, "chat_template", None) if self.use_chat_template else None
        )
        return ModelIdentity(
            backend="vllm",
            name=self.source,
            source=self.source,
            dtype=self.dtype,
            add_bos=self.add_bos,
            chat_template=short_hash(template) if isinstance(template, str) else None,
            batch_size=self.batch_size,
            extra={
                "tensor_parallel_size": self.tensor_parallel_size,
                "vllm": getattr(self._vllm, "__version__", ""),
            },
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
        self.llm = None


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
    """``vllm:TARGET`` (optional extra; CUDA only)."""
    if device not in (None, "cuda"):
        raise ForgetlabError("the vllm backend runs on CUDA GPUs only")
    return VLLMBackend(
        target,
        dtype=dtype,
        batch_size=batch_size,
        add_bos=add_bos,
        chat_template=chat_template,
        **options,
    )


KIND = BackendKind(
    load_vllm,
    frozenset({"tensor_parallel_size", "gpu_memory_utilization", "max_model_len", "seed"}),
)
