"""Sustained load on a small cluster (issue #9): run by hand, never in CI.

Creates a fresh PostgreSQL database and an instance for it in a temporary folder, with Celery
jobs on Redis (``broker_url``) and the rate limits counted in Redis (``rate_limit_store =
"redis"``), both in one Redis database that is emptied before and after. Then starts
``hallmark serve --workers 2`` and two ``hallmark worker`` processes (one pool process each),
creates a few creator accounts with API tokens, and, from this (second) process, keeps a few
concurrent clients busy for a fixed duration with a mix of

- registrations, ``POST /api/v1/works`` of a small unique text (201 expected), and
- verifications, ``POST /api/v1/verify`` of the bytes of a work registered earlier in the run
  (200 with ``"valid": true`` expected).

Any other answer, and any transport error, counts as an error and is printed. At the end it
waits for the workers to drain the analysis jobs the registrations queued (the backlog is read
from the database), reports how many completed and how long the backlog took, runs
``hallmark jobs --json`` and ``hallmark log audit --json``, stops every process and drops the
database. It prints a Rich table and one JSON line on stdout.

The analysis runs as light as in the fault tests: no detectors (``HALLMARK_DETECTORS=[]``), no
prior-art checks (``HALLMARK_SIMILARITY_INDEX=``) and no muse, so a job is the worker's
claim, an empty detector pass and the write of its result; the load measured is the web
processes, PostgreSQL, the log and the queue, not language models.

    .venv/bin/python benchmarks/cluster_load.py [--seconds 180] [--clients 4]
        [--verify-share 0.5] [--creators 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

# The scratch PostgreSQL database helper is shared with the tests' fixtures.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.scratch_db import postgres_database

console = Console(stderr=True)
HALLMARK = Path(sys.executable).with_name("hallmark")
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/12"
#: As the fault tests (tests/faults/processes.py): nothing loads a model.
QUIET = {
    "HALLMARK_DETECTORS": "[]",
    "HALLMARK_SIMILARITY_INDEX": "",
    "HALLMARK_MUSE_BACKEND": "",
}
WORDS = (
    *("tide", "harbour", "gull", "rope", "salt", "ferry", "lantern", "quay", "mist", "anchor"),
    *("pier", "evening", "morning", "stone", "light", "wave", "shore", "boat", "net", "wind"),
    *("sail", "island", "beacon", "current", "kelp", "dune", "cliff", "heron"),
)
#: How many errors are printed in full; the rest are only counted.
SHOWN_ERRORS = 30


# Processes ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(home: Path, env: dict[str, str], *args: str, check: bool = True) -> str:
    done = subprocess.run(
        [str(HALLMARK), "--home", str(home), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and done.returncode != 0:
        raise SystemExit(f"hallmark {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@dataclass
class Process:
    """A started ``hallmark`` process in a session of its own (with its children)."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 30) -> None:
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=timeout)
        # Whatever is left of the session (a child that outlived its parent) goes too.
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


def start(name: str, home: Path, env: dict[str, str], *args: str) -> Process:
    log = home / f"{name}.log"
    with log.open("ab") as handle:
        process = subprocess.Popen(
            [str(HALLMARK), "--home", str(home), *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Process(name, process, log)


def wait_answering(base: str, server: Process, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if not server.alive():
            raise SystemExit(f"hallmark serve stopped; see {server.log}")
        with suppress(httpx.TransportError):
            if httpx.get(f"{base}/api/v1/keys/public", timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"hallmark serve did not answer within {timeout:g} s")
        time.sleep(0.5)


@contextmanager
def redis_database(url: str) -> Iterator[str]:
    """The Redis database of ``url``, emptied before and after."""
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise SystemExit(f"cannot reach Redis at {url}: {exc}") from None
    client.flushdb()
    try:
        yield url
    finally:
        with suppress(redis.RedisError):
            client.flushdb()
        client.close()


# Load -----------------------------------------------------------------------------------------


@dataclass
class Operation:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def count(self) -> int:
        return len(self.latencies) + self.errors

    def percentile(self, q: int) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000 if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[q - 1] * 1000


@dataclass
class Load:
    register: Operation = field(default_factory=lambda: Operation("register"))
    verify: Operation = field(default_factory=lambda: Operation("verify"))
    #: (work id, bytes) of every work registered in the run.
    works: list[tuple[str, bytes]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def error(self, op: Operation, message: str) -> None:
        op.errors += 1
        self.problems.append(f"{op.name}: {message}")
        if len(self.problems) <= SHOWN_ERRORS:
            console.print(f"[red]error[/red] {op.name}: {message}")


def poem(rng: random.Random, client: int, number: int) -> bytes:
    lines = [
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 9))).capitalize() + "."
        for _ in range(rng.randint(3, 8))
    ]
    # The heading makes every text unique, across clients and runs alike.
    heading = f"No. {client}-{number} ({secrets.token_hex(6)})"
    return (heading + "\n" + "\n".join(lines) + "\n").encode()


async def one_client(
    base: str, index: int, token: str, load: Load, deadline: float, verify_share: float
) -> None:
    rng = random.Random(index)
    headers = {"Authorization": f"Bearer {token}"}
    number = 0
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        while time.perf_counter() < deadline:
            verifying = bool(load.works) and rng.random() < verify_share
            op = load.verify if verifying else load.register
            started = time.perf_counter()
            try:
                if verifying:
                    work_id, data = rng.choice(load.works)
                    answer = await client.post(
                        "/api/v1/verify", files={"file": ("poem.txt", data, "text/plain")}
                    )
                else:
                    number += 1
                    data = poem(rng, index, number)
                    answer = await client.post(
                        "/api/v1/works",
                        files={"file": (f"poem-{index}-{number}.txt", data, "text/plain")},
                        data={"title": f"Load poem {index}-{number}", "declare": "human-made"},
                    )
            except httpx.HTTPError as exc:
                load.error(op, f"{type(exc).__name__}: {exc}")
                continue
            elapsed = time.perf_counter() - started
            expected = 200 if verifying else 201
            if answer.status_code != expected:
                load.error(op, f"HTTP {answer.status_code}: {answer.text[:300]}")
                continue
            body = answer.json()
            if verifying and not (body.get("valid") and body.get("work_id") == work_id):
                load.error(op, f"not valid for {work_id}: {answer.text[:300]}")
                continue
            if not verifying:
                load.works.append((body["work_id"], data))
            op.latencies.append(elapsed)


async def report_progress(load: Load, backlog: Any, deadline: float, every: float) -> None:
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        await asyncio.sleep(min(every, max(0.0, deadline - time.perf_counter())))
        counts = await asyncio.to_thread(backlog)
        console.print(
            f"{time.perf_counter() - started:5.0f} s: {load.register.count} registrations, "
            f"{load.verify.count} verifications, {len(load.problems)} errors; jobs {counts}; "
            f"load average {os.getloadavg()[0]:.2f}"
        )


async def run_load(
    base: str, tokens: list[str], clients: int, seconds: float, verify_share: float, backlog: Any
) -> Load:
    load = Load()
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(
        report_progress(load, backlog, deadline, 20.0),
        *(
            one_client(base, i, tokens[i % len(tokens)], load, deadline, verify_share)
            for i in range(clients)
        ),
    )
    load.seconds = time.perf_counter() - started
    return load


# Jobs -----------------------------------------------------------------------------------------


def job_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT status, count(*) FROM analyses GROUP BY status"))
        return {str(status): int(n) for status, n in rows}


def unfinished(counts: dict[str, int]) -> int:
    return counts.get("queued", 0) + counts.get("running", 0)


def drain(engine: Engine, timeout: float) -> tuple[dict[str, int], dict[str, int], float]:
    """Wait until no job is queued or running: the counts at the start and at the end, and
    how long it took."""
    started = time.perf_counter()
    at_start = current = job_counts(engine)
    while unfinished(current) and time.perf_counter() - started < timeout:
        time.sleep(0.5)
        current = job_counts(engine)
    return at_start, current, time.perf_counter() - started


def job_latencies(engine: Engine) -> dict[str, float]:
    """Seconds from queued to done, over the completed jobs: p50, p95, p99 and max."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT EXTRACT(EPOCH FROM finished_at - created_at) FROM analyses "
                "WHERE status = 'done' AND finished_at IS NOT NULL"
            )
        )
        seconds = sorted(float(r[0]) for r in rows)
    if len(seconds) < 2:
        return {}
    q = statistics.quantiles(seconds, n=100, method="inclusive")
    return {"p50": q[49], "p95": q[94], "p99": q[98], "max": seconds[-1]}


# Report ---------------------------------------------------------------------------------------


def print_table(summary: dict[str, Any]) -> None:
    out = Console(width=120)
    table = Table(
        title=f"{summary['web_processes']} web processes, {summary['workers']} workers, "
        f"PostgreSQL; {summary['clients']} clients for {summary['seconds']:.0f} s",
        title_justify="left",
    )
    for column in ("operation", "requests", "errors", "requests/s", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(column, justify="left" if column == "operation" else "right")
    for name, row in summary["operations"].items():
        table.add_row(
            name,
            f"{row['requests']:,}",
            str(row["errors"]),
            f"{row['rps']:.1f}",
            f"{row['p50_ms']:.1f}",
            f"{row['p95_ms']:.1f}",
            f"{row['p99_ms']:.1f}",
        )
    out.print(table)
    jobs = summary["jobs"]
    lat = jobs["queued_to_done_s"]
    out.print(
        f"Analysis jobs: {jobs['done']} done, {jobs['failed']} failed, {jobs['unfinished']} "
        f"unfinished of {jobs['total']}; backlog at the end of the load {jobs['backlog']} "
        f"(drained in {jobs['drain_s']:.1f} s); queued→done p50 {lat.get('p50', 0):.2f} s, "
        f"p99 {lat.get('p99', 0):.2f} s, max {lat.get('max', 0):.2f} s."
    )
    audit = summary["audit"]
    out.print(
        f"Log audit: {'sound' if audit.get('ok') else 'NOT SOUND'}; {audit.get('size')} entries, "
        f"{audit.get('checkpoints')} checkpoints; problems: {audit.get('problems')}."
    )
    out.print(
        f"Load average (1 min) {summary['load_before']:.2f} before, {summary['load_after']:.2f} "
        f"at the end of the load; {summary['cpus']} CPUs; Python {summary['python']}."
    )


def operation_row(op: Operation, seconds: float) -> dict[str, Any]:
    return {
        "requests": op.count,
        "errors": op.errors,
        "rps": len(op.latencies) / seconds if seconds else 0.0,
        "p50_ms": op.percentile(50),
        "p95_ms": op.percentile(95),
        "p99_ms": op.percentile(99),
    }


# Main -----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="length of the load")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    parser.add_argument(
        "--verify-share", type=float, default=0.5, help="share of requests that verify"
    )
    parser.add_argument("--creators", type=int, default=3, help="accounts, one token each")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES, help="an admin URL")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS, help="emptied before and after")
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="hallmark-cluster-"))
    home = folder / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALLMARK_")}
    env.update(QUIET)
    processes: list[Process] = []
    try:
        with (
            postgres_database(args.postgres_url, "hallmark_cluster") as database_url,
            redis_database(args.redis_url) as redis_url,
        ):
            run_cli(home, env, "init", "--database-url", database_url)
            with (home / "hallmark.toml").open("a", encoding="utf-8") as config:
                config.write(
                    "\n# cluster_load.py\n"
                    f'broker_url = "{redis_url}"\n'
                    f'redis_url = "{redis_url}"\n'
                    'rate_limit_store = "redis"\n'
                )
            tokens = []
            for n in range(args.creators):
                run_cli(home, env, "user", "add", f"loadcreator{n}")
                tokens.append(run_cli(home, env, "token", "create", f"loadcreator{n}").strip())

            port = args.port or free_port()
            base = f"http://127.0.0.1:{port}"
            console.print("Starting hallmark serve --workers 2 and two hallmark workers...")
            serve_args = ("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2")
            processes.append(start("serve", home, env, *serve_args))
            for n in (1, 2):
                worker_args = ("worker", "--concurrency", "1", "--name", f"load{n}@%h")
                processes.append(start(f"worker{n}", home, env, *worker_args))
            wait_answering(base, processes[0])

            engine = create_engine(make_url(database_url))
            try:
                load_before = os.getloadavg()[0]
                console.print(
                    f"Load: {args.clients} clients for {args.seconds:g} s "
                    f"({args.verify_share:.0%} verifications)..."
                )
                load = asyncio.run(
                    run_load(
                        base,
                        tokens,
                        args.clients,
                        args.seconds,
                        args.verify_share,
                        lambda: job_counts(engine),
                    )
                )
                load_after = os.getloadavg()[0]
                dead = [p.name for p in processes if not p.alive()]
                if dead:
                    console.print(f"[red]stopped during the load: {', '.join(dead)}[/red]")
                console.print("Waiting for the workers to drain the analysis jobs...")
                at_start, at_end, drain_s = drain(engine, args.drain_timeout)
                latencies = job_latencies(engine)
            finally:
                engine.dispose()
            jobs_cli = json.loads(run_cli(home, env, "jobs", "--json", "--limit", "1"))
            audit_out = run_cli(home, env, "log", "audit", "--json", check=False)
            try:
                audit = json.loads(audit_out)
            except json.JSONDecodeError:
                audit = {"ok": False, "problems": [audit_out[-500:]]}

            for process in reversed(processes):
                process.stop()
            logs = {p.name: p.log.read_text("utf-8", errors="replace") for p in processes}
            processes.clear()

        tracebacks = {name: out.count("Traceback") for name, out in logs.items()}
        summary: dict[str, Any] = {
            "benchmark": "cluster_load",
            "database": "postgresql",
            "web_processes": 2,
            "workers": 2,
            "detectors": "none (HALLMARK_DETECTORS=[], no similarity index, no muse)",
            "clients": args.clients,
            "creators": args.creators,
            "verify_share": args.verify_share,
            "seconds": load.seconds,
            "operations": {
                "POST /api/v1/works": operation_row(load.register, load.seconds),
                "POST /api/v1/verify": operation_row(load.verify, load.seconds),
            },
            "requests": load.register.count + load.verify.count,
            "errors": len(load.problems),
            "rps": (len(load.register.latencies) + len(load.verify.latencies)) / load.seconds,
            "jobs": {
                "total": sum(at_end.values()),
                "done": at_end.get("done", 0),
                "failed": at_end.get("failed", 0),
                "unfinished": unfinished(at_end),
                "backlog": unfinished(at_start),
                "drain_s": drain_s,
                "queued_to_done_s": latencies,
                "cli_counts": jobs_cli.get("counts"),
            },
            "audit": audit,
            "dead_processes": dead,
            "tracebacks_in_logs": tracebacks,
            "load_before": load_before,
            "load_after": load_after,
            "load_avg_end": list(os.getloadavg()),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        }
        if load.problems:
            console.print(f"[red]{len(load.problems)} errors[/red]; the first ones:")
            for problem in load.problems[:SHOWN_ERRORS]:
                console.print(f"  {problem}")
        print_table(summary)
        print(json.dumps(summary, sort_keys=True))
        failed = (
            load.problems
            or dead
            or not audit.get("ok")
            or summary["jobs"]["unfinished"]
            or summary["jobs"]["failed"]
        )
        if failed:
            raise SystemExit(1)
    finally:
        for process in processes:
            process.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
