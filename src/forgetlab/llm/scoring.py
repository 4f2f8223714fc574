"""Log-probabilities of whole texts under a causal LM, for rescoring candidate readings.

The generation :class:`~forgetlab.llm.backends.Backend` interface has no scoring method, so
a :class:`BackendScorer` reads the transformers model and tokenizer of a local backend
(``packaged:``, ``hf:``) and sums the log-probability of every token of a text. Each text
is scored after one start token (:func:`start_token_id`), so its first word is scored too
and texts of different tokenisation compare fairly. Batches are length-sorted and
right-padded; the model runs in float32 under ``torch.inference_mode``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from forgetlab.errors import ForgetlabError


class SequenceScorer(Protocol):
    """Anything that gives texts a log-probability (natural log; higher is likelier)."""

    def identity(self) -> dict[str, Any]:
        """What a result file must record about the scorer."""
        ...

    def logprobs(self, texts: Sequence[str]) -> list[float]:
        """Sum of token log-probabilities of each text."""
        ...


DOCUMENT_START = "<|endoftext|>"


def start_token_id(tokenizer: Any) -> int | None:
    """The token a text is scored after: ``<|endoftext|>`` when the vocabulary has it, else
    BOS, else EOS.

    ``<|endoftext|>`` separates documents in the pretraining data of GPT-2-style and SmolLM
    tokenizers, so it is the start of a text the model knows best; an instruct model's BOS may
    be a chat marker (SmolLM2's is ``<|im_start|>``), which scored worse on our tuning texts.
    """
    vocab = tokenizer.get_vocab()
    if DOCUMENT_START in vocab:
        return int(vocab[DOCUMENT_START])
    for tid in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if tid is not None:
            return int(tid)
    return None


class BackendScorer:
    """Scores texts with the transformers model behind a local backend."""

    def __init__(
        self, backend: Any, *, spec: str, batch_size: int = 16, start_id: int | None = None
    ) -> None:
        if not (hasattr(backend, "model") and hasattr(backend, "tokenizer")):
            raise ForgetlabError(
                f"model {spec!r} cannot score texts: a local transformers model is needed "
                "(packaged:NAME or hf:...)"
            )
        self.backend = backend
        self.spec = spec
        self.batch_size = batch_size
        start = start_id if start_id is not None else start_token_id(backend.tokenizer)
        if start is None:
            raise ForgetlabError(f"model {spec!r} has neither a BOS nor an EOS token to start from")
        self.start_id = int(start)

    def identity(self) -> dict[str, Any]:
        ident = self.backend.identity.as_dict()
        return {
            "spec": self.spec,
            "name": ident["name"],
            "revision": ident["revision"],
            "dtype": ident["dtype"],
            "start_token": self.backend.tokenizer.convert_ids_to_tokens(self.start_id),
        }

    def logprobs(self, texts: Sequence[str]) -> list[float]:
        import torch

        tok, model = self.backend.tokenizer, self.backend.model
        encoded = [[self.start_id, *tok(t, add_special_tokens=False)["input_ids"]] for t in texts]
        device = next(model.parameters()).device
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
        out = [0.0] * len(texts)
        with torch.inference_mode():
            for batch in _batches(order, [len(e) for e in encoded], self.batch_size):
                width = max(len(encoded[i]) for i in batch)
                ids = torch.zeros((len(batch), width), dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):
                    ids[row, : len(encoded[i])] = torch.tensor(encoded[i])
                    mask[row, : len(encoded[i])] = 1
                ids, mask = ids.to(device), mask.to(device)
                logits = model(input_ids=ids, attention_mask=mask).logits.float()
                logp = torch.log_softmax(logits[:, :-1], dim=-1)
                picked = logp.gather(-1, ids[:, 1:, None])[..., 0] * mask[:, 1:]
                for row, i in enumerate(batch):
                    out[i] = float(picked[row].sum())
        return out


# Most token positions per forward pass: the float32 logits (and their log-softmax) of a
# 49k-token vocabulary take 200 MB per 1,000 positions, so a batch of long texts is cut.
MAX_BATCH_TOKENS = 2048


def _batches(order: list[int], lengths: list[int], size: int) -> list[list[int]]:
    """Consecutive groups of ``order`` (sorted by length) of at most ``size`` texts and
    ``MAX_BATCH_TOKENS`` padded positions (a longer text goes alone)."""
    out: list[list[int]] = []
    for i in order:
        if out and len(out[-1]) < size and (len(out[-1]) + 1) * lengths[i] <= MAX_BATCH_TOKENS:
            out[-1].append(i)
        else:
            out.append([i])
    return out


def load_scorer(spec: str, *, batch_size: int = 16) -> BackendScorer:
    """Open ``spec`` (a model spec, see :func:`forgetlab.llm.backends.load_backend`) in float32."""
    from forgetlab.llm.backends import is_local, load_backend

    if not is_local(spec):
        raise ForgetlabError(
            f"model {spec!r} cannot score texts: a local transformers model is needed "
            "(packaged:NAME or hf:...)"
        )
    backend = load_backend(spec, dtype="float32", batch_size=batch_size, chat_template=False)
    return BackendScorer(backend, spec=spec, batch_size=batch_size)
