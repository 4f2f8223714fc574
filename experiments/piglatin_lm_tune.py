"""Choose ``piglatin-lm``'s candidate margin and LM weight on text we never report.

Usage: ``OMP_NUM_THREADS=1 python experiments/piglatin_lm_tune.py [--model SPEC]``. The
tuning texts are MultiJail's 315 English prompts and the 165 packaged harmless requests
(neither is the 500-sentence pool nor AdvBench, whose round trips docs/transforms.md
reports). Each text is encoded with the paper's Pig Latin, the decoder's 16 best readings
within the widest margin are scored once by the LM, and every (margin, weight) pair of the
grid is evaluated on those scores: the number of texts read back exactly (``’`` = ``'``).
The start token the LM conditions on can be compared too (``--start both``: the default of
``forgetlab.llm.scoring.start_token_id`` and the tokenizer's BOS).
With ``--wordnet DIR`` (an extracted ``/usr/share/wordnet`` of Debian's ``wordnet-base``:
``apt-get download wordnet-base && dpkg-deb -x wordnet-base_*.deb x``) a seeded sample of
WordNet's example sentences (``--wordnet-n``, default 1000) is added as a second tuning set,
tabulated separately. Prints tables; the chosen values are the constants of
``piglatin_lm.py``.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from pathlib import Path

from forgetlab.data import data_path
from forgetlab.llm.benchmarks.harmful.multijail import read_multijail
from forgetlab.llm.scoring import BackendScorer, load_scorer
from forgetlab.llm.transforms.piglatin import PigLatin
from forgetlab.llm.transforms.piglatin_lm import DEFAULT_SCORER, choose, sentence_candidates

MARGINS = (0.25, 0.5, 1.0, 1.5, 2.0)
WEIGHTS = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0)


def tuning_texts() -> list[str]:
    texts = [row["en"] for row in read_multijail()]
    for name in ("harmless_requests.tsv", "harmless_requests_select.tsv"):
        lines = data_path("benign", name).read_text(encoding="utf-8").splitlines()
        texts += [line.split("\t", 1)[1] for line in lines if "\t" in line]
    return texts


def wordnet_examples(folder: Path, n: int) -> list[str]:
    """``n`` WordNet example sentences (quoted in the glosses), a seeded sample of all."""
    found: set[str] = set()
    for pos in ("noun", "verb", "adj", "adv"):
        for line in (folder / f"data.{pos}").read_text(encoding="latin-1").splitlines():
            if not line.startswith("  ") and "|" in line:
                found.update(q.strip() for q in re.findall(r'"([^"]+)"', line.split("|", 1)[1]))
    return random.Random(0).sample(sorted(found), n)


def same(a: str, b: str) -> bool:
    return a.replace("’", "'") == b.replace("’", "'")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=DEFAULT_SCORER)
    ap.add_argument("--start", choices=["default", "bos", "both"], default="default")
    ap.add_argument("--scores", type=Path, help="JSON file caching the LM scores (read/written)")
    ap.add_argument("--wordnet", type=Path, help="extracted /usr/share/wordnet folder")
    ap.add_argument("--wordnet-n", type=int, default=1000)
    args = ap.parse_args()
    sets = {"MultiJail en + harmless requests": tuning_texts()}
    if args.wordnet:
        sets["WordNet examples"] = wordnet_examples(args.wordnet, args.wordnet_n)
    pl = PigLatin()
    cands = {
        label: [sentence_candidates(pl.forward(t), margin=max(MARGINS)) for t in texts]
        for label, texts in sets.items()
    }
    pending = sorted({c for cl in cands.values() for cs in cl if len(cs) > 1 for _, c in cs})
    base = load_scorer(args.model)
    starts = {"default": base.start_id, "bos": base.backend.tokenizer.bos_token_id}
    if args.start != "both":
        starts = {args.start: starts[args.start]}
    cache: dict[str, dict[str, float]] = {}
    if args.scores and args.scores.is_file():
        cache = json.loads(args.scores.read_text(encoding="utf-8"))
    for label, texts in sets.items():
        alone = sum(same(t, cs[0][1]) for t, cs in zip(texts, cands[label], strict=True))
        print(f"{label}: {len(texts)} texts, decoder alone {alone}")
    print(f"{len(pending)} candidates to score")
    for label, start in starts.items():
        scorer = BackendScorer(base.backend, spec=args.model, start_id=start)
        t0 = time.perf_counter()
        scores = cache.get(label, {})
        todo = [c for c in pending if c not in scores]
        scores.update(zip(todo, scorer.logprobs(todo), strict=True))
        cache[label] = scores
        if args.scores:
            args.scores.write_text(json.dumps(cache), encoding="utf-8")
        print(f"\nstart token {label} (id {start}), scored in {time.perf_counter() - t0:.0f} s")
        for set_label, texts in sets.items():
            print(f"\n{set_label}: texts read back (’ = ')")
            table(texts, cands[set_label], scores)


def table(texts: list[str], cands: list[list[tuple[float, str]]], scores: dict[str, float]) -> None:
    print("| margin | " + " | ".join(f"w={w}" for w in WEIGHTS) + " | oracle |")
    print("|---" * (len(WEIGHTS) + 2) + "|")
    for m in MARGINS:
        row = []
        for w in WEIGHTS:
            ok = 0
            for t, cs in zip(texts, cands, strict=True):
                kept = [c for c in cs if c[0] - cs[0][0] <= m]
                pick = (
                    kept[0][1] if len(kept) == 1 else choose(kept, [scores[c] for _, c in kept], w)
                )
                ok += same(t, pick)
            row.append(str(ok))
        oracle = sum(
            any(same(t, c) for cost, c in cs if cost - cs[0][0] <= m)
            for t, cs in zip(texts, cands, strict=True)
        )
        print(f"| {m} | " + " | ".join(row) + f" | {oracle} |")


if __name__ == "__main__":
    main()
