"""Refusal benchmarks (docs/harmful.md): one run command (``benchmark.py``: the
``HarmfulBenchmark`` and its ``COMMAND``, ``forgetlab llm harmful``) over several prompt
sets: AdvBench harmful requests (``advbench.py``), MultiJail (``multijail.py``) and the
harmless control set (``benign.py``); label rates with Wilson intervals in ``rates.py``."""
