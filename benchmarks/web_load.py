"""Load check of the web service (issue #7, item 6): run by hand, never in CI.

Starts ``hallmark serve`` in a subprocess on 127.0.0.1 with a fresh instance in a temporary
folder, seeds it with N text works through the API, then, from this process, keeps a few
concurrent clients busy against one endpoint at a time for a fixed duration:

- the gallery (``/gallery``, or the home page ``/`` on an instance without one),
- a work page, ``/works/{id}``, of a random seeded work,
- the verify API, ``POST /api/v1/verify``, with the bytes of a random seeded work.

It prints requests per second and the 50th, 95th and 99th percentile latencies per endpoint,
with the machine's load average before and after, as a Markdown table. ``--database postgres``
runs the server on a database it creates on the PostgreSQL server named by ``--postgres-url``
and drops at the end.

The server runs without detectors and without prior-art checks (``HALLMARK_DETECTORS=[]``,
``HALLMARK_SIMILARITY_INDEX=``): they load language models and run after registration, in the
background, and the pages and the verify API measured here never call them.

    .venv/bin/python benchmarks/web_load.py [--database sqlite|postgres] [--works 300]
        [--duration 20] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

# The scratch PostgreSQL database helper is shared with the tests' fixtures.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.scratch_db import postgres_database

console = Console(stderr=True)
HALLMARK = Path(sys.executable).with_name("hallmark")
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
WORDS = (
    "tide",
    "harbour",
    "gull",
    "rope",
    "salt",
    "ferry",
    "lantern",
    "quay",
    "mist",
    "anchor",
    "pier",
    "evening",
    "morning",
    "stone",
    "light",
    "wave",
    "shore",
    "boat",
    "net",
    "wind",
    "sail",
    "island",
    "beacon",
    "current",
    "kelp",
    "dune",
    "cliff",
    "heron",
)


# The server ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run_cli(home: Path, env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(HALLMARK), "--home", str(home), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"hallmark {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@contextmanager
def server(home: Path, env: dict[str, str], port: int) -> Iterator[str]:
    """``hallmark serve`` in a subprocess; its base URL once it answers."""
    log = (home / "serve.log").open("w")
    process = subprocess.Popen(
        [str(HALLMARK), "--home", str(home), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the server stopped; see {home / 'serve.log'}")
            try:
                if httpx.get(f"{base}/api/v1/keys/public", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not answer within 120 s")
            time.sleep(0.25)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


# Seeding -------------------------------------------------------------------------------------


def poem(rng: random.Random, number: int) -> bytes:
    lines = [
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 11))).capitalize() + "."
        for _ in range(rng.randint(6, 30))
    ]
    return (f"No. {number}\n" + "\n".join(lines) + "\n").encode()


def seed(base: str, token: str, works: int) -> list[tuple[str, bytes]]:
    rng = random.Random(7)
    seeded: list[tuple[str, bytes]] = []
    headers = {"Authorization": f"Bearer {token}"}
    columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with (
        httpx.Client(base_url=base, headers=headers, timeout=60) as client,
        Progress(*columns, console=console) as progress,
    ):
        task = progress.add_task("seeding", total=works)
        for number in range(works):
            data = poem(rng, number)
            answer = client.post(
                "/api/v1/works",
                files={"file": (f"poem-{number}.txt", data, "text/plain")},
                data={"title": f"Harbour poem {number}", "declare": "human-made"},
            )
            if answer.status_code != 201:
                raise SystemExit(f"seeding failed: {answer.status_code} {answer.text[:300]}")
            seeded.append((answer.json()["work_id"], data))
            progress.advance(task)
    return seeded


# Load ----------------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    load_before: float = 0.0
    load_after: float = 0.0

    def percentile(self, q: int) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000 if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[q - 1] * 1000

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


#: One request of an endpoint, from a client and the client's random numbers.
Send = Callable[[httpx.AsyncClient, random.Random], Awaitable[httpx.Response]]


async def hammer(base: str, make: Send, seconds: float, concurrency: int, result: Result) -> None:
    """``concurrency`` clients, each sending one request after another until time is up."""
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def one_client(index: int) -> None:
        rng = random.Random(index)
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await make(client, rng)
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    result.errors += 1
                else:
                    result.latencies.append(elapsed)

    started = time.perf_counter()
    await asyncio.gather(*(one_client(i) for i in range(concurrency)))
    result.seconds = time.perf_counter() - started


def endpoints(base: str, seeded: list[tuple[str, bytes]]) -> dict[str, Send]:
    gallery = "/gallery" if httpx.get(f"{base}/gallery").status_code == 200 else "/"
    html = {"Accept": "text/html"}

    async def gallery_page(client: httpx.AsyncClient, rng: random.Random) -> httpx.Response:
        return await client.get(gallery, headers=html)

    async def work_page(client: httpx.AsyncClient, rng: random.Random) -> httpx.Response:
        return await client.get(f"/works/{rng.choice(seeded)[0]}", headers=html)

    async def verify(client: httpx.AsyncClient, rng: random.Random) -> httpx.Response:
        data = rng.choice(seeded)[1]
        files = {"file": ("poem.txt", data, "text/plain")}
        return await client.post("/api/v1/verify", files=files)

    return {
        f"GET {gallery}": gallery_page,
        "GET /works/{id}": work_page,
        "POST /api/v1/verify": verify,
    }


def measure(
    base: str, seeded: list[tuple[str, bytes]], seconds: float, concurrency: int, warmup: float
) -> list[Result]:
    """Each endpoint in turn: a warm-up, then ``seconds`` of measured requests."""
    results = []
    for name, make in endpoints(base, seeded).items():
        asyncio.run(hammer(base, make, warmup, concurrency, Result(name)))
        result = Result(name, load_before=os.getloadavg()[0])
        console.print(f"{name}: {seconds:g} s with {concurrency} clients...")
        asyncio.run(hammer(base, make, seconds, concurrency, result))
        result.load_after = os.getloadavg()[0]
        results.append(result)
    return results


def table(results: list[Result], database: str, args: argparse.Namespace) -> str:
    rows = [
        f"Database: {database}; {args.works} works; {args.concurrency} concurrent clients; "
        f"{args.duration:g} s per endpoint after {args.warmup:g} s of warm-up; "
        f"{os.cpu_count()} CPUs; Python {platform.python_version()}.",
        "",
        "| endpoint | requests | errors | requests/s | p50 ms | p95 ms | p99 ms "
        "| load avg before → after |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        rows.append(
            f"| `{r.name}` | {len(r.latencies):,} | {r.errors} | {r.rate:,.1f} "
            f"| {r.percentile(50):.1f} | {r.percentile(95):.1f} | {r.percentile(99):.1f} "
            f"| {r.load_before:.2f} → {r.load_after:.2f} |"
        )
    return "\n".join(rows)


@contextmanager
def database_for(args: argparse.Namespace) -> Iterator[str | None]:
    """The server's database URL: None for SQLite in the instance folder."""
    if args.database == "sqlite":
        yield None
        return
    with postgres_database(args.postgres_url, "hallmark_load") as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES, help="an admin URL")
    parser.add_argument("--works", type=int, default=300)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per endpoint")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="hallmark-load-")) / "home"
    env = {**os.environ, "HALLMARK_DETECTORS": "[]", "HALLMARK_SIMILARITY_INDEX": ""}
    env.pop("HALLMARK_HOME", None)
    try:
        with database_for(args) as database_url:
            init = ["init"] + (["--database-url", database_url] if database_url else [])
            run_cli(home, env, *init)
            run_cli(home, env, "user", "add", "loadtest")
            token = run_cli(home, env, "token", "create", "loadtest").strip()
            with server(home, env, args.port or free_port()) as base:
                seeded = seed(base, token, args.works)
                results = measure(base, seeded, args.duration, args.concurrency, args.warmup)
        print(table(results, args.database, args))
    finally:
        shutil.rmtree(home.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
