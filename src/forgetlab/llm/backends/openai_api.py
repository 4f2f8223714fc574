"""Any OpenAI-compatible HTTP API (OpenAI, vLLM ``vllm serve``, llama.cpp server, TGI...).

Plain ``urllib`` instead of the ``openai`` package, on purpose: the backend needs exactly two
POST endpoints, and owning the request loop lets us (1) retry 429/5xx/connection errors with
our own exponential backoff and end with one readable line, (2) keep the API key in a single
request header so it can never leak into logs, identity or result files, and (3) run with no
extra dependency. Requests run concurrently in a small thread pool; results keep input order.

Configuration comes from the environment only (never from files that get saved):
``FORGETLAB_OPENAI_BASE_URL`` or ``OPENAI_BASE_URL`` (default ``https://api.openai.com/v1``)
and ``FORGETLAB_OPENAI_API_KEY`` or ``OPENAI_API_KEY`` (optional for local servers).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from forgetlab.errors import ForgetlabError
from forgetlab.llm.backends.base import (
    Backend,
    BackendKind,
    GenerationConfig,
    Message,
    ModelIdentity,
)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class ApiError(ForgetlabError):
    """The API refused a request or stayed unreachable after every retry."""


def env_base_url() -> str:
    return (
        os.environ.get("FORGETLAB_OPENAI_BASE_URL")
        or os.environ.get("OPENAI_BASE_URL")
        or DEFAULT_BASE_URL
    )


def env_api_key() -> str | None:
    return os.environ.get("FORGETLAB_OPENAI_API_KEY") or os.environ.get("OPENAI_API_KEY") or None


def public_url(url: str) -> str:
    """The base URL without credentials, query or fragment: safe to record."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


class OpenAIBackend(Backend):
    """Chat (``/chat/completions``) or text (``/completions``) generation over HTTP."""

    def __init__(
        self,
        model: str,
        *,
        mode: Literal["chat", "completions"] = "chat",
        base_url: str | None = None,
        api_key: str | None = None,
        batch_size: int = 16,
        concurrency: int | None = None,
        max_retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        timeout: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not model:
            raise ForgetlabError("openai backend needs a model name, e.g. openai:gpt-4o-mini")
        if mode not in ("chat", "completions"):
            raise ForgetlabError(f"unknown openai mode {mode!r}")
        self.model = model
        self.mode = mode
        self.base_url = (base_url or env_base_url()).rstrip("/")
        self._key = api_key if api_key is not None else env_api_key()
        self.batch_size = batch_size
        self.concurrency = max(1, concurrency or min(batch_size, 8))
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self._sleep = sleep

    def __repr__(self) -> str:  # never show the key
        return f"OpenAIBackend(model={self.model!r}, mode={self.mode!r}, base_url={public_url(self.base_url)!r})"

    @property
    def identity(self) -> ModelIdentity:
        return ModelIdentity(
            backend="openai" if self.mode == "chat" else "openai-completions",
            name=self.model,
            source=public_url(self.base_url),
            revision="",
            dtype="server",
            add_bos=None,  # decided by the server
            chat_template="server" if self.mode == "chat" else None,
            batch_size=self.batch_size,
            extra={"endpoint": "/chat/completions" if self.mode == "chat" else "/completions"},
        )

    # ------------------------------------------------------------------ interface
    def complete(self, prompts: Sequence[str], config: GenerationConfig) -> list[str]:
        if self.mode == "chat":  # a chat-only model: send the raw text as one user message
            return self.chat([[{"role": "user", "content": p}] for p in prompts], config)
        return self._map([{"prompt": p} for p in prompts], config, "/completions")

    def chat(
        self, conversations: Sequence[Sequence[Message]], config: GenerationConfig
    ) -> list[str]:
        if self.mode == "completions":
            raise ForgetlabError(
                f"{self.model!r} was opened as openai-completions:; use openai:{self.model} for chat"
            )
        bodies = [{"messages": [dict(m) for m in conv]} for conv in conversations]
        return self._map(bodies, config, "/chat/completions")

    # ------------------------------------------------------------------ HTTP
    def _map(self, bodies: list[dict[str, Any]], config: GenerationConfig, path: str) -> list[str]:
        common: dict[str, Any] = {
            "model": self.model,
            "max_tokens": config.max_new_tokens,
            "temperature": config.temperature,
            "seed": config.seed,
        }
        if config.stop:
            common["stop"] = list(config.stop)
        payloads = [{**common, **body} for body in bodies]
        if self.concurrency == 1 or len(payloads) <= 1:
            return [self._request(path, p) for p in payloads]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(lambda p: self._request(path, p), payloads))

    def _request(self, path: str, payload: dict[str, Any]) -> str:
        data = json.dumps(payload).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        url = self.base_url + path
        last = ""
        for attempt in range(self.max_retries + 1):
            delay = min(self.max_backoff, self.backoff * 2**attempt)
            try:
                req = urllib.request.Request(url, data=data, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return self._parse(json.loads(resp.read().decode("utf-8")))
            except urllib.error.HTTPError as exc:
                detail = self._scrub(_error_message(exc))
                last = f"HTTP {exc.code}: {detail}"
                if exc.code not in RETRY_STATUS:
                    raise ApiError(f"{public_url(url)} refused the request ({last})") from None
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
                if retry_after and retry_after.replace(".", "", 1).isdigit():
                    delay = min(self.max_backoff, float(retry_after))
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                last = self._scrub(f"connection error: {reason}")
            except (json.JSONDecodeError, UnicodeDecodeError):
                last = "malformed JSON response"
            if attempt < self.max_retries:
                self._sleep(delay)
        raise ApiError(
            f"{public_url(url)} failed after {self.max_retries + 1} attempts (last: {last})"
        )

    def _parse(self, body: Any) -> str:
        try:
            choice = body["choices"][0]
            text = choice["message"]["content"] if self.mode == "chat" else choice["text"]
        except (KeyError, IndexError, TypeError):
            raise ApiError("the API answered without choices[0] text") from None
        return "" if text is None else str(text)

    def _scrub(self, text: str) -> str:
        text = " ".join(text.split())[:200]
        return text.replace(self._key, "***") if self._key else text


def _error_message(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read().decode("utf-8"))
        err = body.get("error", body) if isinstance(body, dict) else body
        msg = err.get("message", err) if isinstance(err, dict) else err
        return str(msg)
    except Exception:
        return str(exc.reason)


def _loader(mode: Literal["chat", "completions"]) -> Callable[..., Backend]:
    def load(
        target: str,
        *,
        dtype: str | None,
        device: str | None,
        batch_size: int,
        add_bos: bool | None,
        chat_template: bool,
        **options: Any,
    ) -> Backend:
        if dtype or device or add_bos is not None or not chat_template:
            raise ForgetlabError(
                "dtype/device/add_bos/chat_template are decided by the server for openai: models"
            )
        return OpenAIBackend(target, mode=mode, batch_size=batch_size, **options)

    return load


_HTTP_OPTIONS = frozenset(
    {"base_url", "concurrency", "max_retries", "backoff", "max_backoff", "timeout"}
)
CHAT_KIND = BackendKind(_loader("chat"), _HTTP_OPTIONS, local=False)
COMPLETIONS_KIND = BackendKind(_loader("completions"), _HTTP_OPTIONS, local=False)
