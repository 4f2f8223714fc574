"""How ``--back-translator`` is read: ``none``, ``apertium`` or any model spec.

``apertium`` maps Spanish outputs back with the inverse of ``apertium:eng-spa``; any other
text is a backend spec (``hf:...``, ``openai:...``, a model directory) whose chat model is
prompted to translate into English.
"""

from __future__ import annotations

from forgetlab.spec import Grammar, Spec, parse_spec

BACK_TRANSLATOR_SPEC = Grammar(
    "back-translator", lambda: ("none", "apertium"), default_arg="none", fallback="model"
)


def parse_back_translator(spec: str | None) -> Spec | None:
    """``None`` for no back-translation, ``Spec("apertium")``, or ``Spec("model", MODEL_SPEC)``."""
    if spec is None or not spec.strip():
        return None
    parsed = parse_spec(spec, BACK_TRANSLATOR_SPEC)
    return None if parsed.kind == "none" else parsed
