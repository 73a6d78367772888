"""A tiny OpenAI-compatible chat server for tests, standing in for Ollama or vLLM.

It answers ``POST /v1/chat/completions`` with ``"stream": true`` as server-sent events, one
word per chunk, then ``data: [DONE]``; it keeps every request it got. A request for the model
``missing`` gets 404, a wrong bearer key 401, as real servers answer.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER = "1. What does the letter say?\n2. Who wrote it?"


@dataclass
class ChatServer:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    key: str | None = None


@contextmanager
def chat_server(answer: str = ANSWER, key: str | None = None) -> Iterator[ChatServer]:
    state = ChatServer(url="", key=key)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append(body)
            state.headers.append(dict(self.headers))
            if self.path != "/v1/chat/completions":
                self._fail(404, "no such route")
                return
            if state.key and self.headers.get("Authorization") != f"Bearer {state.key}":
                self._fail(401, "bad key")
                return
            if body.get("model") == "missing":
                self._fail(404, "model 'missing' not found")
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            words = answer.split(" ")
            for index, word in enumerate(words[: int(body.get("max_tokens", 100))]):
                piece = word if index == 0 else " " + word
                chunk = {"choices": [{"index": 0, "delta": {"content": piece}}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")

        def _fail(self, status: int, message: str) -> None:
            payload = json.dumps({"error": {"message": message}}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
