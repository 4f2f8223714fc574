"""Pig Latin (the paper's rules) decoded with a language model's second opinion: ``piglatin-lm``.

Encoding is that of ``piglatin``. Decoding first runs the model-free decoder of
:mod:`forgetlab.llm.transforms.piglatin` and keeps, per sentence, its ``NBEST`` cheapest
readings (:func:`~forgetlab.llm.transforms.piglatin.nbest`) that cost at most ``MARGIN``
more than the cheapest. A causal LM then scores each candidate sentence as a whole, and the
candidate with the highest ``log p_LM(sentence) - LM_WEIGHT * decoder cost`` wins. A word
pair table cannot see that ``who to`` is odd or that ``She bought`` starts a sentence; a
model reading the whole sentence can. Sentences are split after ``.``, ``!`` or ``?``
followed by white space, where the decoder's choices are independent anyway; a sentence
with a single candidate is not scored.

``piglatin-lm`` scores with ``packaged:smollm2-135m-instruct``; ``piglatin-lm:SPEC`` takes
any local model spec (``packaged:NAME``, ``hf:...``). The model is opened on first use,
and ``describe()`` records its identity (name, weights revision) so that outputs read
back with different scorers are never mixed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from forgetlab.errors import ForgetlabError
from forgetlab.llm.scoring import SequenceScorer
from forgetlab.llm.transforms.piglatin import DECODER, PigLatin, nbest

DEFAULT_SCORER = "packaged:smollm2-135m-instruct"
# Chosen by experiments/piglatin_lm_tune.py on texts we do not report (MultiJail's English
# prompts with the harmless requests, and 1,000 WordNet example sentences): the margin and
# weight reading back the most texts over both sets (ties: the smaller weight).
NBEST = 16
MARGIN = 1.0  # log10 units of decoder cost
LM_WEIGHT = 2.0  # nats of LM log-probability per log10 unit of decoder cost

_SENTENCE_BREAK = re.compile(r"((?<=[.!?])\s+)")
_HAS_LETTER = re.compile(r"[^\W\d_]")


def sentence_candidates(
    sentence: str, k: int = NBEST, margin: float = MARGIN
) -> list[tuple[float, str]]:
    """The decoder's ``k`` best readings of ``sentence`` within ``margin`` of the best."""
    found = nbest(sentence, k)
    return [(cost, text) for cost, text in found if cost - found[0][0] <= margin]


def choose(
    candidates: Sequence[tuple[float, str]], logprobs: Sequence[float], weight: float
) -> str:
    """The candidate with the highest ``logprob - weight * cost`` (first one on a tie)."""
    combined = [lp - weight * cost for (cost, _), lp in zip(candidates, logprobs, strict=True)]
    return candidates[combined.index(max(combined))][1]


def rescore(
    texts: Sequence[str],
    scorer: SequenceScorer,
    *,
    k: int = NBEST,
    margin: float = MARGIN,
    weight: float = LM_WEIGHT,
) -> list[str]:
    """Decode Pig Latin ``texts``, each sentence chosen among the decoder's candidates by the LM.

    All candidates of all texts go to the scorer in one call (it batches them).
    """
    pieces = [_SENTENCE_BREAK.split(t) for t in texts]
    cands: dict[tuple[int, int], list[tuple[float, str]]] = {}
    for i, parts in enumerate(pieces):
        for j in range(0, len(parts), 2):  # odd indices hold the separators
            if _HAS_LETTER.search(parts[j]):
                cands[(i, j)] = sentence_candidates(parts[j], k, margin)
    pending = sorted({text for cs in cands.values() if len(cs) > 1 for _, text in cs})
    scores = dict(zip(pending, scorer.logprobs(pending), strict=True)) if pending else {}
    for (i, j), cs in cands.items():
        pieces[i][j] = cs[0][1] if len(cs) == 1 else choose(cs, [scores[t] for _, t in cs], weight)
    return ["".join(parts) for parts in pieces]


class PigLatinLM(PigLatin):
    """``piglatin`` whose inverse lets a causal LM pick among the decoder's best readings."""

    name = "piglatin-lm"

    def __init__(self, scorer_spec: str = DEFAULT_SCORER, scorer: SequenceScorer | None = None):
        self.scorer_spec = scorer_spec
        self._scorer = scorer

    @property
    def scorer(self) -> SequenceScorer:
        """The scoring model, opened on first use."""
        if self._scorer is None:
            from forgetlab.llm.scoring import load_scorer

            self._scorer = load_scorer(self.scorer_spec)
        return self._scorer

    def inverse(self, text: str) -> str:
        return self.inverse_batch([text])[0]

    def inverse_batch(self, texts: Sequence[str]) -> list[str]:
        return rescore(texts, self.scorer)

    def describe(self) -> dict[str, object]:
        lm: dict[str, Any] = {
            "scorer": self.scorer.identity(),
            "nbest": NBEST,
            "margin": MARGIN,
            "lm_weight": LM_WEIGHT,
        }
        return {**super().describe(), "decoder": f"{DECODER}+lm-rescoring", **lm}


def make_piglatin_lm(arg: str) -> PigLatinLM:
    """``piglatin-lm`` or ``piglatin-lm:MODEL_SPEC`` (the model is opened on first use)."""
    from forgetlab.llm.backends import resolve_model_spec

    spec = arg or DEFAULT_SCORER
    try:
        resolve_model_spec(spec)
    except ForgetlabError as exc:
        raise ForgetlabError(f"transform 'piglatin-lm:{arg}': {exc}") from None
    return PigLatinLM(spec)
