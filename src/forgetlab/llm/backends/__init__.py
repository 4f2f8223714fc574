"""Generation backends behind one interface, chosen by a model spec string.

Spec forms (see docs/backends.md):

- ``packaged:gemma-3-270m``, ``packaged:smollm2-135m-instruct``: offline models from PyPI
- ``hf:<hub id or local dir or .gguf file>``; a bare existing directory or ``.gguf`` path
- ``openai:<model>`` (chat endpoint), ``openai-completions:<model>`` (text endpoint)
- ``vllm:<hub id or local dir>`` (optional extra)
- ``mock:echo``, ``mock:const=TEXT``, ``mock:file=PATH``: fixed outputs, for testing a pipeline
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from forgetlab.errors import ForgetlabError
from forgetlab.llm.backends.base import (
    Backend,
    BackendKind,
    GenerationConfig,
    Message,
    ModelIdentity,
)
from forgetlab.registry import Registry
from forgetlab.spec import Grammar, Spec
from forgetlab.spec import parse_spec as _parse

__all__ = [
    "BACKENDS",
    "MODEL_SPEC",
    "Backend",
    "BackendKind",
    "GenerationConfig",
    "Message",
    "ModelIdentity",
    "backend_kind",
    "is_local",
    "load_backend",
    "parse_model_spec",
    "resolve_model_spec",
]

SPEC_HELP = (
    "expected packaged:NAME, hf:HUB_ID_OR_DIR, openai:MODEL, openai-completions:MODEL, "
    "vllm:HUB_ID_OR_DIR, mock:echo, mock:const=TEXT, mock:file=PATH, "
    "or an existing model directory / .gguf file"
)

# One line per backend kind: the module attribute holding its BackendKind. A module is
# imported only when a spec of its kind is loaded (hf pulls in torch, vllm its extra).
BACKENDS: Registry[BackendKind] = Registry(
    "backend",
    {
        "packaged": "forgetlab.llm.backends.hf:PACKAGED_KIND",
        "hf": "forgetlab.llm.backends.hf:KIND",
        "openai": "forgetlab.llm.backends.openai_api:CHAT_KIND",
        "openai-completions": "forgetlab.llm.backends.openai_api:COMPLETIONS_KIND",
        "vllm": "forgetlab.llm.backends.vllm_backend:KIND",
        "mock": "forgetlab.llm.backends.mock:KIND",
    },
)

# ``KIND:TARGET``; TARGET keeps its own colons and slashes. Text whose prefix is no kind
# (a bare path, ``C:/models/x``, a kind name without ``:``) comes back as kind "" for the
# path check in :func:`resolve_model_spec`.
MODEL_SPEC = Grammar(
    "model",
    BACKENDS.names,
    default_arg="required",
    fallback="",
    arg_label="model",
    hint=SPEC_HELP,
)


def parse_model_spec(spec: str) -> Spec:
    """The grammar step alone: ``Spec(kind, target)``; kind "" if the text names no kind."""
    return _parse(spec, MODEL_SPEC)


def resolve_model_spec(spec: str) -> tuple[str, str]:
    """The backend kind and target a model spec opens: :func:`parse_model_spec` plus the
    path check (a bare model directory or ``.gguf`` file is ``hf``)."""
    parsed = parse_model_spec(spec)
    if parsed.kind:
        return parsed.kind, parsed.arg
    text = parsed.arg
    path = Path(text).expanduser()
    if path.is_dir() or (path.suffix == ".gguf" and path.is_file()):
        return "hf", text
    if path.suffix == ".gguf":
        raise ForgetlabError(f"GGUF file not found: {path}")
    raise ForgetlabError(f"unknown model {text!r}: {SPEC_HELP}")


def backend_kind(spec: str) -> BackendKind:
    """The :class:`BackendKind` that opens ``spec`` (imports that backend's module)."""
    return BACKENDS.get(resolve_model_spec(spec)[0])


def is_local(spec: str) -> bool:
    """Whether ``spec`` runs in this process (False for a server: ``openai:``...)."""
    return backend_kind(spec).local


def load_backend(
    spec: str,
    *,
    dtype: str | None = None,
    device: str | None = None,
    batch_size: int = 16,
    add_bos: bool | None = None,
    chat_template: bool = True,
    **kw: Any,
) -> Backend:
    """Open the model named by ``spec``; user mistakes raise a one-line ForgetlabError.

    ``add_bos=None`` means the backend's default: no BOS (the paper's setting) except for
    models that require one (Gemma); the value used is recorded in ``identity``.
    """
    if batch_size < 1:
        raise ForgetlabError("batch_size must be >= 1")
    kind_name, target = resolve_model_spec(spec)
    kind = BACKENDS.get(kind_name)
    unknown = sorted(set(kw) - kind.options)
    if unknown:
        raise ForgetlabError(f"option(s) {', '.join(unknown)} do not apply to {kind_name}: models")
    return kind.load(
        target,
        dtype=dtype,
        device=device,
        batch_size=batch_size,
        add_bos=add_bos,
        chat_template=chat_template,
        **kw,
    )
