"""Paired comparison of two harness runs (lm-evaluation-harness, Inspect): ``forgetlab compare``."""
