"""Real Hallmark processes for the fault tests, and a TCP proxy that can play a dead service.

Everything listens on 127.0.0.1 only. Each process is started in a session of its own, so it
and its children (uvicorn's workers, Celery's pool) can be killed together, and always are
when a test ends.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
#: Settings every fault-test process gets: no detector loads a model, no similarity index
#: loads the sentence embedder, no muse loads its language model.
QUIET = {
    "HALLMARK_DETECTORS": "[]",
    "HALLMARK_SIMILARITY_INDEX": "",
    "HALLMARK_MUSE_BACKEND": "",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hallmark_command() -> list[str]:
    """The installed ``hallmark`` console script of this interpreter."""
    script = Path(sys.executable).parent / "hallmark"
    return [str(script)] if script.exists() else [sys.executable, "-m", "hallmark.cli.main"]


def process_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALLMARK_")}
    env.update(QUIET)
    env.update(settings)
    # Tests import the slow detector plugin from the checkout.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


@dataclass
class Running:
    """A started process (and its session), with its output in a log file."""

    process: subprocess.Popen[bytes]
    log: Path
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text("utf-8", errors="replace")

    def children(self) -> list[int]:
        """The direct children that serve (uvicorn's workers, Celery's pool processes)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            # The command may hold spaces and parentheses: the fields follow the last ')'.
            state, parent = stat.rsplit(")", 1)[1].split()[:2]
            # A child killed a moment ago stays a zombie until its parent notices.
            alive = state not in ("Z", "X") and cmdline.strip()
            if int(parent) == self.pid and alive and b"resource_tracker" not in cmdline:
                found.append(int(entry.name))
        return sorted(found)

    def kill(self) -> None:
        """SIGKILL to the whole session: the process and every child, at once."""
        with suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, timeout: float = 20) -> None:
        try:
            os.killpg(self.pid, signal.SIGTERM)
            self.process.wait(timeout=timeout)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            pass
        self.kill()


def start(args: list[str], log: Path, env: dict[str, str], port: int = 0) -> Running:
    handle = log.open("ab")
    process = subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    handle.close()
    return Running(process, log, port)


def answers(url: str) -> bool:
    try:
        return httpx.get(url + "/api/v1/log/checkpoint", timeout=5).status_code < 500
    except httpx.HTTPError:
        return False


@contextmanager
def serving(
    home: Path, log: Path, *, workers: int = 1, timeout: float = 180, **settings: str
) -> Iterator[Running]:
    """``hallmark serve`` on a free port, answering; killed with its workers afterwards."""
    port = free_port()
    command = [*hallmark_command(), "--home", str(home), "serve", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    running = start(command, log, process_env(**settings), port)
    try:
        wait_until(
            lambda: answers(running.url) or running.process.poll() is not None,
            timeout,
            "hallmark serve to answer",
        )
        assert running.process.poll() is None, running.output()
        yield running
    finally:
        running.stop()


def start_worker(home: Path, log: Path, name: str, **settings: str) -> Running:
    """``hallmark worker`` (one pool process) with the slow test detector registered."""
    command = [
        sys.executable,
        "-m",
        "tests.faults.slow_plugin",
        "--home",
        str(home),
        "worker",
        "--concurrency",
        "1",
        "--name",
        name,
        "--loglevel",
        "info",
    ]
    return start(command, log, process_env(**settings))


# A proxy that can play dead ------------------------------------------------------------------


@dataclass
class TcpProxy:
    """Forwards a local port to ``target``. :meth:`down` cuts every connection and refuses new
    ones, as a stopped service does; :meth:`up` brings it back on the same port."""

    target: int
    port: int = field(default_factory=free_port)
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    def __post_init__(self) -> None:
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.up()

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    def up(self) -> None:
        async def listen() -> None:
            self._server = await asyncio.start_server(
                self._accept, "127.0.0.1", self.port, reuse_address=True
            )

        self._run(listen())

    def down(self) -> None:
        async def cut() -> None:
            if self._server is not None:
                self._server.close()
                self._server = None
            for writer in list(self._writers):
                # abort(): a reset, not a polite close, as when the service's host goes away.
                writer.transport.abort()
            self._writers.clear()

        self._run(cut())

    def close(self) -> None:
        self.down()
        self.loop.call_soon_threadsafe(self.loop.stop)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.target
            )
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, upstream_writer))
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()
