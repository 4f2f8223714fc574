"""Inspect's entry point (``[project.entry-points.inspect_ai]``): importing this module
registers forgetlab's tasks and solver as ``forgetlab/<name>``."""

from forgetlab.inspect.solver import conjugate
from forgetlab.inspect.tasks import benign, harmful, icl_vs_if, multijail, xnli

__all__ = ["benign", "conjugate", "harmful", "icl_vs_if", "multijail", "xnli"]
