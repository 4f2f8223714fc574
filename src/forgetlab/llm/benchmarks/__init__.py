"""LLM benchmarks, one home each: ``icl_vs_if/`` (ICL vs instruction following),
``harmful/`` (harmful requests, MultiJail and the harmless set) and ``xnli.py``, on the
shared interface (``base.py``), loop (``loop.py``), command declaration (``command.py``),
results layout (``schema.py``) and registry (``registry.py``)."""
