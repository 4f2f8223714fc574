"""OpenAI-compatible backend against a local HTTP server on 127.0.0.1 (no network)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from forgetlab.errors import ForgetlabError
from forgetlab.llm.backends import GenerationConfig, load_backend
from forgetlab.llm.backends.openai_api import ApiError, OpenAIBackend, public_url
from forgetlab.llm.runner import generate_cached
from forgetlab.results import JsonlCache, write_json

KEY = "sk-test-SECRET-0123456789"


class FakeServer:
    """Serves /v1/chat/completions (upper-cases the last message) and /v1/completions
    (reverses the prompt); ``answer(path, text)``, when set, replies to both instead. ``fail_first``
    requests get ``fail_status`` first; ``fail_status`` alone with ``fail_first=None`` fails
    forever."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_first: int | None = 0
        self.fail_status = 503
        self.retry_after: str | None = None
        self.answer: Callable[[str, str], str] | None = None
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append(
                        {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
                    )
                    n = len(server.requests)
                    failing = server.fail_first is None or n <= server.fail_first
                if failing:
                    payload = {"error": {"message": f"overloaded (key {KEY})"}}
                    self._send(server.fail_status, payload, server.retry_after)
                elif self.path == "/v1/chat/completions":
                    last = body["messages"][-1]["content"]
                    text = server.answer(self.path, last) if server.answer else last.upper()
                    self._send(
                        200, {"choices": [{"message": {"role": "assistant", "content": text}}]}
                    )
                elif self.path == "/v1/completions":
                    prompt = body["prompt"]
                    text = server.answer(self.path, prompt) if server.answer else prompt[::-1]
                    self._send(200, {"choices": [{"text": text}]})
                else:
                    self._send(404, {"error": {"message": "no such route"}})

            def _send(self, status: int, payload: Any, retry_after: str | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if retry_after:
                    self.send_header("Retry-After", retry_after)
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[FakeServer]:
    srv = FakeServer()
    yield srv
    srv.close()


@pytest.fixture
def env(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    names = ("FORGETLAB_OPENAI_BASE_URL", "FORGETLAB_OPENAI_API_KEY", "http_proxy", "HTTP_PROXY")
    for name in names:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    return server


def make(mode: str = "chat", **kw: Any) -> tuple[OpenAIBackend, list[float]]:
    sleeps: list[float] = []
    kw.setdefault("backoff", 0.5)
    be = OpenAIBackend("tiny-model", mode=mode, sleep=sleeps.append, **kw)  # type: ignore[arg-type]
    return be, sleeps


def test_completions_keep_order_and_send_decoding_settings(env: FakeServer):
    be, _ = make("completions", concurrency=4)
    prompts = [f"prompt number {i}" for i in range(11)]
    cfg = GenerationConfig(max_new_tokens=7, stop=("\n",), seed=3)
    assert be.complete(prompts, cfg) == [p[::-1] for p in prompts]
    assert len(env.requests) == 11
    body = env.requests[0]["body"]
    assert body["model"] == "tiny-model" and body["max_tokens"] == 7 and body["temperature"] == 0.0
    assert body["stop"] == ["\n"] and body["seed"] == 3
    assert {r["path"] for r in env.requests} == {"/v1/completions"}
    assert all(r["auth"] == f"Bearer {KEY}" for r in env.requests)


def test_chat_and_complete_on_a_chat_model(env: FakeServer):
    be, _ = make("chat")
    convs = [[{"role": "system", "content": "be nice"}, {"role": "user", "content": "hello"}]]
    assert be.chat(convs, GenerationConfig()) == ["HELLO"]
    assert env.requests[0]["body"]["messages"] == convs[0]
    assert "stop" not in env.requests[0]["body"]
    assert be.complete(["raw text"], GenerationConfig()) == ["RAW TEXT"]
    with pytest.raises(ForgetlabError, match="openai-completions"):
        make("completions")[0].chat(convs, GenerationConfig())


def test_retries_with_exponential_backoff(env: FakeServer):
    env.fail_first = 3
    be, sleeps = make("completions", max_retries=5)
    assert be.complete(["abc"], GenerationConfig()) == ["cba"]
    assert len(env.requests) == 4
    assert sleeps == [0.5, 1.0, 2.0]


def test_retry_after_header_and_429(env: FakeServer):
    env.fail_first, env.fail_status, env.retry_after = 1, 429, "0.25"
    be, sleeps = make("chat")
    assert be.chat([[{"role": "user", "content": "x"}]], GenerationConfig()) == ["X"]
    assert sleeps == [0.25]


def test_persistent_failure_is_one_line_without_the_key(env: FakeServer):
    env.fail_first, env.fail_status = None, 500
    be, sleeps = make("completions", max_retries=3, max_backoff=1.5)
    with pytest.raises(ApiError) as err:
        be.complete(["abc"], GenerationConfig())
    msg = str(err.value)
    assert "failed after 4 attempts" in msg and "HTTP 500" in msg and "\n" not in msg
    assert KEY not in msg and "***" in msg
    assert len(env.requests) == 4 and sleeps == [0.5, 1.0, 1.5]


def test_client_errors_are_not_retried(env: FakeServer):
    env.fail_first, env.fail_status = None, 401
    be, sleeps = make("chat")
    with pytest.raises(ApiError, match=r"refused the request .*HTTP 401"):
        be.chat([[{"role": "user", "content": "x"}]], GenerationConfig())
    assert len(env.requests) == 1 and sleeps == []


def test_unreachable_server_retries_then_fails(monkeypatch: pytest.MonkeyPatch):
    srv = FakeServer()
    url = srv.url
    srv.close()  # nothing listens on this port any more
    be, sleeps = make("completions", base_url=url, max_retries=2, timeout=5)
    with pytest.raises(ApiError, match="connection error") as err:
        be.complete(["abc"], GenerationConfig())
    assert "failed after 3 attempts" in str(err.value) and len(sleeps) == 2


def test_key_never_in_identity_or_saved_results(env: FakeServer, tmp_path):
    be = load_backend("openai-completions:tiny-model", batch_size=4, backoff=0.0)
    ident = be.identity
    assert ident.backend == "openai-completions" and ident.name == "tiny-model"
    assert ident.source == env.url and ident.add_bos is None
    cache = JsonlCache(tmp_path / "samples.jsonl")
    items = [{"id": str(i), "model_input": f"p{i}"} for i in range(6)]
    rows = generate_cached(
        be,
        items,
        cache=cache,
        mode="complete",
        config=GenerationConfig(),
        batch_size=4,
        show_progress=False,
    )
    assert [r["output"] for r in rows] == [f"p{i}"[::-1] for i in range(6)]
    write_json(tmp_path / "results.json", {"model": ident.as_dict()})
    for path in tmp_path.iterdir():
        assert KEY not in path.read_text()
    assert KEY not in repr(be) and KEY not in json.dumps(ident.as_dict())


def test_environment_precedence_and_public_url(server: FakeServer, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://wrong.invalid/v1")
    monkeypatch.setenv("FORGETLAB_OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("FORGETLAB_OPENAI_API_KEY", "forgetlab-key")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    be = load_backend("openai:tiny-model", max_retries=0)
    assert be.chat([[{"role": "user", "content": "hi"}]], GenerationConfig()) == ["HI"]
    assert server.requests[0]["auth"] == "Bearer forgetlab-key"
    assert (
        public_url("https://user:pw@host.example:8443/v1/?token=abc")
        == "https://host.example:8443/v1"
    )


def test_openai_spec_errors():
    with pytest.raises(ForgetlabError, match="do not apply"):
        load_backend("openai:m", tensor_parallel_size=2)
    with pytest.raises(ForgetlabError, match="decided by the server"):
        load_backend("openai:m", dtype="bfloat16")


def test_icl_vs_if_cli_on_a_completions_and_a_chat_endpoint(
    env: FakeServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """The real command, both models over HTTP: base = text endpoint answering the pattern on
    the first prompt of each task, tuned = chat endpoint always following the instruction."""
    from forgetlab.cli import main
    from forgetlab.llm.benchmarks.icl_vs_if.benchmark import build_items
    from forgetlab.results import read_json

    items = {it.model_input: it for it in build_items(["en"], [], 2)[0]}
    assert len(items) == 8  # 4 tasks x 2 prompts, all distinct
    assert not any(it.if_answer.startswith(it.icl_answer) for it in items.values())

    def answer(path: str, text: str) -> str:
        it = items[text]  # a KeyError (HTTP 500) unless the prompt arrived unchanged
        if path == "/v1/completions":
            return it.icl_answer + "\n" if it.index == 0 else " no idea"
        return it.if_answer

    env.answer = answer
    out = tmp_path / "run"
    args = ["llm", "icl-vs-if", "--base", "openai-completions:base-m", "--tuned", "openai:chat-m"]
    args += ["--languages", "en", "--limit", "2", "--batch-size", "3", "--quiet", "--out", str(out)]
    main(args)
    paths = [r["path"] for r in env.requests]
    assert paths.count("/v1/completions") == 8 and paths.count("/v1/chat/completions") == 8
    chats = [r["body"] for r in env.requests if r["path"] == "/v1/chat/completions"]
    # each raw prompt went to the chat model as one user message, greedy, 10 tokens
    assert sorted(c["messages"][0]["content"] for c in chats) == sorted(items)
    assert all(len(c["messages"]) == 1 and c["messages"][0]["role"] == "user" for c in chats)
    assert all(c["model"] == "chat-m" and c["max_tokens"] == 10 for c in chats)
    assert all(c["temperature"] == 0.0 for c in chats)
    res = read_json(out / "results.json")
    assert res["complete"] and res["samples_done"] == 16
    en = res["languages"]["en"]
    assert en["base"]["icl_hits"] == 4 and en["base"]["icl_accuracy"] == 0.5
    assert en["base"]["if_hits"] == 0
    assert en["tuned"]["icl_hits"] == 0 and en["tuned"]["if_rate"] == 1.0
    assert en["drop"] == 0.5 and en["if_increase"] == 1.0
    assert res["models"]["base"]["backend"] == "openai-completions"
    assert (
        res["models"]["tuned"]["backend"] == "openai" and res["models"]["tuned"]["name"] == "chat-m"
    )
    assert "drop_ci95" in en
    text = capsys.readouterr().out
    assert "the tuned model is a chat model" in text and "the base model is a chat" not in text
    assert KEY not in (out / "results.json").read_text()
