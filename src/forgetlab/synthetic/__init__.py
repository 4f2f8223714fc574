"""Synthetic lab: in-context linear regression on a mixture of a discrete task pool and a
continuous Gaussian family (docs/synthetic-training.md#the-task)."""
