"""LLM lab: paired evaluation of base vs fine-tuned models under conjugate transforms (docs/llm-evaluation.md, docs/harmful.md)."""
