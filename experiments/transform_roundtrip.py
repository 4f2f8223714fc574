"""Measure each transform's round trip ``inverse(forward(s)) == s`` on the 500 English sentences.

Usage: ``OMP_NUM_THREADS=1 python experiments/transform_roundtrip.py [--no-lm]`` (prints a
markdown table). The last column is the sentence round trip on the 520 English AdvBench
behaviours. ``piglatin-lm`` (decoding rescored by a packaged LM, minutes on one CPU thread)
is measured unless ``--no-lm``; its time is printed with the load average. Also reports Pig
Latin's ambiguity: the share of word types (in the pool) whose encoding decodes to more than
one word, with no lexicon and with the packaged lexicon, and how many lines of the paper's
``ls``/``pl`` pools our forward transforms reproduce. Apertium rows are skipped when the
binary is absent. Recorded in docs/transforms.md.
"""

from __future__ import annotations

import argparse
import os
import re
import time

import forgetlab.llm.transforms as T
from forgetlab.errors import ForgetlabError
from forgetlab.llm.benchmarks.harmful.advbench import read_behaviours
from forgetlab.llm.benchmarks.icl_vs_if import load_pool
from forgetlab.llm.transforms import piglatin

NAMES = [
    "identity",
    "rot13",
    "base64",
    "word-reversal",
    "leetspeak",
    "leetspeak-lower6",
    "piglatin",
    "piglatin-classic",
    "piglatin-lm",
    "pretranslated:fr",
    "pretranslated:ls",
    "apertium:eng-spa",
]


def chrf_like(a: str, b: str) -> float:
    """Character 3-gram F1 (a cheap similarity for lossy round trips)."""

    def grams(s: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in range(len(s) - 2):
            out[s[i : i + 3]] = out.get(s[i : i + 3], 0) + 1
        return out

    ga, gb = grams(a), grams(b)
    common = sum(min(v, gb.get(k, 0)) for k, v in ga.items())
    if not common:
        return 0.0
    p, r = common / max(1, sum(gb.values())), common / max(1, sum(ga.values()))
    return 2 * p * r / (p + r)


# (transform, "pool" | "AdvBench") -> (read-back texts, seconds), reused by the Pig Latin rows
BACK: dict[tuple[str, str], tuple[list[str], float]] = {}


def measure(name: str, pool: list[str], advbench: list[str]) -> dict[str, object] | None:
    try:
        tr = T.get_transform(name)
        t0 = time.perf_counter()
        fwd = tr.forward_batch(pool)
        back = tr.inverse_batch(fwd)
        dt = time.perf_counter() - t0
    except ForgetlabError as exc:
        print(f"skip {name}: {exc}")
        return None
    exact = sum(a == b for a, b in zip(pool, back, strict=True))
    words = [w for s in pool for w in s.split()]
    back_words = [w for s in back for w in s.split()]
    word_acc = (
        sum(a == b for a, b in zip(words, back_words, strict=True)) / len(words)
        if len(words) == len(back_words)
        else float("nan")
    )
    sim = sum(chrf_like(a, b) for a, b in zip(pool, back, strict=True)) / len(pool)
    adv: float | None = None
    if not name.startswith("pretranslated"):  # the paper translated only its own pool
        t0 = time.perf_counter()
        adv_back = tr.inverse_batch(tr.forward_batch(advbench))
        adv_seconds = time.perf_counter() - t0
        adv = sum(a == b for a, b in zip(advbench, adv_back, strict=True)) / len(advbench)
        BACK[(name, "AdvBench")] = (adv_back, adv_seconds)
    BACK[(name, "pool")] = (back, dt)
    return {
        "name": name,
        "bijective": tr.bijective,
        "exact": exact / len(pool),
        "words": word_acc,
        "char3_f1": sim,
        "seconds": dt,
        "advbench": adv,
    }


def piglatin_ambiguity(pool: list[str]) -> tuple[int, float, float]:
    types = sorted({w.lower() for s in pool for w in re.findall(r"[^\W\d_]+", s)})
    lex = piglatin.lexicon()
    amb_none = amb_lex = 0
    for w in types:
        cands = piglatin.candidates(piglatin.encode_word(w))
        amb_none += len(cands) > 1
        amb_lex += sum(c in lex for c in cands) > 1
    return len(types), amb_none / len(types), amb_lex / len(types)


def piglatin_round_trips(pool: list[str], advbench: list[str]) -> None:
    """Sentence round trips of the Pig Latin variants with 95% Wilson intervals.

    The paper's rules drop apostrophes, so pool lines written with ``’`` cannot come back
    exactly; the pool is also reported with ``’`` and ``'`` counted as equal.
    """
    from forgetlab.llm.benchmarks.harmful.rates import wilson_interval

    for name in ("piglatin", "piglatin-classic", "piglatin-lm"):
        if (name, "pool") not in BACK:
            continue
        for label, texts, fold, key in [
            ("pool", pool, False, "pool"),
            ("pool, ’ = '", pool, True, "pool"),
            ("AdvBench", advbench, False, "AdvBench"),
        ]:
            back, seconds = BACK[(name, key)]
            k = sum(
                (a.replace("’", "'") == b.replace("’", "'")) if fold else a == b
                for a, b in zip(texts, back, strict=True)
            )
            lo, hi = wilson_interval(k, len(texts))
            print(
                f"`{name}` round trip, {label}: {k}/{len(texts)} = {k / len(texts):.1%} "
                f"[{lo:.1%}, {hi:.1%}] ({seconds:.1f} s to encode and decode)"
            )


def paper_pool_match(pool: list[str]) -> None:
    """Lines of the paper's ``ls``/``pl`` pools our forward transforms reproduce."""
    for name, lang, fold in [
        ("leetspeak", "ls", True),
        ("leetspeak-lower6", "ls", True),
        ("piglatin", "pl", False),
        ("piglatin-classic", "pl", False),
    ]:
        ours = T.get_transform(name).forward_batch(pool)
        paper = list(load_pool(lang))
        same = sum(
            (a.lower() == b.lower()) if fold else (a == b) for a, b in zip(ours, paper, strict=True)
        )
        how = " (ignoring case)" if fold else ""
        print(f"`{name}` vs the paper's `{lang}` pool: {same}/{len(pool)} lines equal{how}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--no-lm", action="store_true", help="skip piglatin-lm (LM rescoring)")
    args = ap.parse_args()
    pool = list(load_pool("en"))
    advbench = list(read_behaviours("en"))
    names = [n for n in NAMES if not (args.no_lm and n == "piglatin-lm")]
    load_before = os.getloadavg()
    rows = [r for n in names if (r := measure(n, pool, advbench)) is not None]
    load_after = os.getloadavg()
    print(
        "| transform | bijective | sentences exact | words exact | char-3gram F1 | time, s "
        "| AdvBench exact |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        words = "n/a" if r["words"] != r["words"] else f"{r['words']:.1%}"  # NaN: counts differ
        adv = "n/a" if r["advbench"] is None else f"{r['advbench']:.1%}"
        print(
            f"| `{r['name']}` | {'yes' if r['bijective'] else 'no'} | {r['exact']:.1%} | {words} "
            f"| {r['char3_f1']:.3f} | {r['seconds']:.2f} | {adv} |"
        )
    n, a0, a1 = piglatin_ambiguity(pool)
    print(f"\nPig Latin: {n} word types; ambiguous without lexicon {a0:.1%}, with lexicon {a1:.1%}")
    paper_pool_match(pool)
    piglatin_round_trips(pool, advbench)
    print(
        f"load average (1, 5, 15 min) before: {load_before[0]:.2f} {load_before[1]:.2f} "
        f"{load_before[2]:.2f}; after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}; "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )


if __name__ == "__main__":
    main()
