"""LLM lab: paired evaluation of base vs fine-tuned models under conjugate transforms (SPEC §3-§5)."""
