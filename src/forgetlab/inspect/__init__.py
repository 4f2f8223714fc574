"""forgetlab inside UK AISI Inspect: the ``conjugate()`` solver and one task per benchmark.

Installed with ``pip install 'forgetlab[harness]'``; Inspect finds the tasks through the
``inspect_ai`` entry point (``_registry``), so ``inspect eval forgetlab/icl_vs_if`` works.
The submodules import ``inspect_ai``; this package itself imports nothing heavy.
"""
