"""forgetlab: measure, explain and undo catastrophic forgetting via implicit inference."""

from forgetlab.openmp import prefer_passive_waiting

prefer_passive_waiting()  # before anything imports torch (see forgetlab/openmp.py)

__version__ = "0.1.0"
