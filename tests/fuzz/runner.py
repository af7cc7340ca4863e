"""Running fuzz inputs in worker processes, with a per-input watchdog, and summing up.

The parent sends ``(target, seed)`` pairs to forked workers and waits for
each answer at most ``timeout`` seconds (``cli_*`` targets: ``cli_timeout``);
a worker that does not answer in time is killed and the input counted as a
hang, and a fresh worker takes over.  Workers run under an address-space
limit, so a memory blowup shows as an uncaught ``MemoryError``.
"""
from __future__ import annotations

import multiprocessing as mp
import multiprocessing.connection
import random
import resource
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from .targets import WEIGHTS, Failure, make_input, run_input

__all__ = ["Summary", "schedule", "run", "format_summary", "replay", "FAILURES"]

COLUMNS = ("result", "parse_error", "clean_error", "uncaught", "unnamed", "disagreement",
           "cli_traceback", "hang")
FAILURES = ("uncaught", "unnamed", "disagreement", "cli_traceback", "hang")
#: Extra address space a worker may take beyond what it holds after importing.
_MEMORY_HEADROOM = 3 << 30


@dataclass
class Summary:
    """Counts per target and outcome, the failures (target, seed, kind, detail), the slowest input."""

    counts: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)
    slowest: tuple = (0.0, "", -1)
    seconds: float = 0.0

    def add(self, target: str, seed: int, kind: str, secs: float, detail: str = "") -> None:
        row = self.counts.setdefault(target, dict.fromkeys(COLUMNS + ("inputs",), 0))
        row["inputs"] += 1
        row[kind] += 1
        if kind in FAILURES:
            self.failures.append((target, seed, kind, detail))
        if secs > self.slowest[0]:
            self.slowest = (secs, target, seed)

    @property
    def total(self) -> int:
        return sum(r["inputs"] for r in self.counts.values())

    def failed(self, kind: str) -> int:
        return sum(r[kind] for r in self.counts.values())


def schedule(n: int, seed: int = 0) -> list[tuple[str, int]]:
    """``n`` (target, input seed) pairs, targets drawn by :data:`WEIGHTS`."""
    rng = random.Random(seed)
    names = sorted(WEIGHTS)
    picks = rng.choices(names, weights=[WEIGHTS[t] for t in names], k=n)
    return [(t, seed * 10_000_000 + i) for i, t in enumerate(picks)]


def _limit_memory() -> None:
    try:
        with open("/proc/self/status") as fh:
            vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
        resource.setrlimit(resource.RLIMIT_AS, (vm + _MEMORY_HEADROOM, resource.RLIM_INFINITY))
    except (OSError, StopIteration, ValueError):
        pass


def _worker(conn, tmp: str) -> None:
    _limit_memory()
    warnings.simplefilter("ignore")      # readers warn about odd but valid input (Block numbers)
    tmp_path = Path(tmp)
    while True:
        job = conn.recv()
        if job is None:
            return
        target, seed = job
        t0 = time.perf_counter()
        try:
            kind, detail = run_input(make_input(target, seed), tmp_path), ""
        except Failure as f:
            kind, detail = f.kind, str(f)
        except MemoryError:
            kind, detail = "uncaught", "MemoryError"
        conn.send((kind, detail, time.perf_counter() - t0))


class _Worker:
    """One worker process and the job it is on; restarted after a hang or a crash."""

    def __init__(self, ctx, tmp: str):
        self.ctx, self.tmp = ctx, tmp
        self.proc = self.conn = self.job = None
        self.deadline = 0.0

    def send(self, job, timeout: float) -> None:
        if self.proc is None or not self.proc.is_alive():
            parent, child = self.ctx.Pipe()
            self.proc = self.ctx.Process(target=_worker, args=(child, self.tmp), daemon=True)
            self.proc.start()
            self.conn = parent
        self.job, self.deadline = job, time.monotonic() + timeout
        self.conn.send(job)

    def answer(self):
        """The finished job's ``(kind, detail, seconds)``."""
        try:
            return self.conn.recv()
        except EOFError:
            self.proc.join()
            self.proc = None
            return "uncaught", "the worker died (exit code of a crash, e.g. a segfault)", 0.0

    def kill(self, timeout: float):
        self.proc.kill()
        self.proc.join()
        self.proc = None
        return "hang", f"no answer within {timeout:g} s", timeout

    def close(self):
        if self.proc is not None and self.proc.is_alive():
            self.conn.send(None)
            self.proc.join(5)
            if self.proc.is_alive():
                self.proc.kill()


def run(n: int, *, seed: int = 0, timeout: float = 20.0, cli_timeout: float = 120.0, workers: int = 1,
        progress: bool = False, jobs: list | None = None) -> Summary:
    """Run ``n`` scheduled inputs (or the given ``jobs``) on ``workers`` processes; the :class:`Summary`."""
    jobs = list(schedule(n, seed) if jobs is None else jobs)
    summary = Summary()
    tmp = tempfile.mkdtemp(prefix="pextlab-fuzz-")
    ctx = mp.get_context("fork")
    pool = [_Worker(ctx, tmp) for _ in range(max(1, workers))]
    limit = {}
    t0 = time.perf_counter()
    todo, done = iter(jobs), 0
    try:
        for w in pool:
            job = next(todo, None)
            if job is not None:
                limit[id(w)] = cli_timeout if job[0].startswith("cli_") else timeout
                w.send(job, limit[id(w)])
        while any(w.job is not None for w in pool):
            busy = [w for w in pool if w.job is not None]
            wait = max(0.0, min(w.deadline for w in busy) - time.monotonic())
            ready = mp.connection.wait([w.conn for w in busy], timeout=wait)
            for w in busy:
                if w.conn in ready:
                    kind, detail, secs = w.answer()
                elif time.monotonic() >= w.deadline:
                    kind, detail, secs = w.kill(limit[id(w)])
                else:
                    continue
                summary.add(*w.job, kind, secs, detail)
                done += 1
                w.job = None
                job = next(todo, None)
                if job is not None:
                    limit[id(w)] = cli_timeout if job[0].startswith("cli_") else timeout
                    w.send(job, limit[id(w)])
                if progress and (done % 1000 == 0 or done == len(jobs)):
                    bad = sum(summary.failed(k) for k in FAILURES)
                    print(f"  {done}/{len(jobs)} inputs, {bad} failures, {time.perf_counter() - t0:.0f} s",
                          file=sys.stderr, flush=True)
    finally:
        for w in pool:
            w.close()
        shutil.rmtree(tmp, ignore_errors=True)
    summary.seconds = time.perf_counter() - t0
    return summary


def format_summary(summary: Summary) -> str:
    """The summary table, then the slowest input and the first failures."""
    head = ("target", "inputs", "results", "ParseErrors", "clean exits", "uncaught", "unnamed",
            "disagree", "CLI tracebacks", "hangs")
    rows = []
    for t in sorted(summary.counts):
        r = summary.counts[t]
        rows.append((t, r["inputs"], r["result"], r["parse_error"], r["clean_error"], r["uncaught"],
                     r["unnamed"], r["disagreement"], r["cli_traceback"], r["hang"]))
    total = ("total", *[sum(r[i] for r in rows) for i in range(1, len(head))])
    widths = [max(len(str(x[i])) for x in [head, total, *rows]) for i in range(len(head))]
    line = lambda r: "  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w)  # noqa: E731
                               for i, (v, w) in enumerate(zip(r, widths)))
    out = [line(head), line(tuple("-" * w for w in widths)), *map(line, rows), line(total)]
    secs, t, s = summary.slowest
    out.append(f"slowest input: {t} seed {s}, {secs:.2f} s;  {summary.total} inputs in {summary.seconds:.0f} s")
    for target, s, kind, detail in summary.failures[:10]:
        out.append(f"FAIL {kind}: {target} seed {s} (python -m tests.fuzz --replay {target} {s})\n"
                   + "\n".join("    " + ln for ln in detail.strip().splitlines()[-8:]))
    return "\n".join(out)


def replay(target: str, seed: int) -> str:
    """One input again, in this process: how it was made, its start, and the outcome."""
    inp = make_input(target, seed)
    tmp = Path(tempfile.mkdtemp(prefix="pextlab-fuzz-"))
    try:
        try:
            outcome = run_input(inp, tmp)
        except Failure as f:
            outcome = f"FAILURE {f.kind}:\n{f}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    shown = inp.data[:1500].decode("utf-8", "replace")
    return (f"target {target} seed {seed}: {inp.base}{' file ' + inp.file if inp.file else ''}, "
            f"steps {inp.steps}, {len(inp.data)} bytes\n{shown}\n--- outcome: {outcome}")
