"""What the fuzz inputs are fed to, and what each target must do with them.

A target is a name, a corpus of real files to mutate (built once per worker
process) and a function ``run(input) -> kind`` that returns ``"result"``,
``"parse_error"`` or ``"clean_error"`` (a command's exit 1/2, a capture's
PextlabError), or raises :class:`Failure` when the contract is broken:

* a reader raises anything but :class:`~pextlab.errors.ParseError`, or a
  ParseError that names no file or no line (``unnamed``);
* ``iter_page_owner_chunks`` disagrees with ``read_page_owner`` (``disagreement``);
* a command lets an exception out, prints a traceback or exits with another
  status (``cli_traceback``).
"""
from __future__ import annotations

import contextlib
import gzip
import io
import os
import random
import shutil
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pextlab import tracing, workloads as W
from pextlab.capture import Capture
from pextlab.cli import main as cli_main
from pextlab.errors import ParseError, PextlabError
from pextlab.machine import boot
from pextlab.procfs.buddyinfo import read_buddyinfo
from pextlab.procfs.cma import read_cma
from pextlab.procfs.dmesg import read_dmesg
from pextlab.procfs.extfrag import read_extfrag, read_index_file
from pextlab.procfs.iomem import read_iomem, system_ram_ranges
from pextlab.procfs.meminfo import read_meminfo
from pextlab.procfs.memory_blocks import format_memory_blocks, read_memory_blocks
from pextlab.procfs.page_owner import format_page_owner, iter_page_owner_chunks, read_page_owner
from pextlab.procfs.pagetypeinfo import read_pagetypeinfo
from pextlab.procfs.stacks import read_show_stacks
from pextlab.procfs.trace import read_trace
from pextlab.procfs.vmstat import read_vmstat
from pextlab.procfs.zoneinfo import read_zoneinfo

from .mutators import encode, mutate

__all__ = ["REAL", "Failure", "Input", "Target", "TARGETS", "WEIGHTS", "make_input", "run_input", "reader_target"]

REAL = Path(__file__).resolve().parents[2] / "data" / "real-kernel"
#: Scenarios whose capture folders the capture-level targets start from.
SCENARIOS = ("a-512M", "b-1G", "e-1G-noowner", "f-numa2", "g-1G-guard", "h-1G-cma64M", "i-hotplug")
PAGE_OWNER_VARIANTS = ("v3.19", "v4.6", "v5.4", "v5.11", "v5.13", "v5.14", "v5.18", "v5.19", "v6.5", "v6.12")


class Failure(Exception):
    """A broken contract: ``kind`` is the summary column, ``str()`` the detail."""

    def __init__(self, kind: str, detail: str):
        self.kind = kind
        super().__init__(detail)


@dataclass
class Input:
    """One fuzz input: the target, its seed, the damaged bytes and how they were made."""

    target: str
    seed: int
    data: bytes
    base: str
    steps: list = field(default_factory=list)
    file: str = ""                     # capture targets: which capture file was damaged ("-" deleted)
    extra: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# Corpora (built lazily, once per process)
# --------------------------------------------------------------------------------------

_CACHE: dict = {}


def _files(pattern: str) -> list[tuple[str, bytes]]:
    return [(str(p.relative_to(REAL)), p.read_bytes()) for p in sorted(REAL.glob(pattern))]


def _records(path: Path) -> list[str]:
    text = gzip.decompress(path.read_bytes()).decode()
    return [r + "\n\n" for r in text.split("\n\n") if r.strip()]


def _page_owner_corpus():
    """Real records of every dump, and the same records printed in every variant."""
    if "po" not in _CACHE:
        dumps = {p.parent.name + "/" + p.name: _records(p) for p in sorted(REAL.glob("*/page_owner*.txt.gz"))}
        rng = random.Random(0)
        variants = {}
        for v in PAGE_OWNER_VARIANTS:
            name, recs = rng.choice(sorted(dumps.items()))
            start = rng.randrange(len(recs) - 40)
            df = read_page_owner("".join(recs[start:start + 40]))
            variants[v] = [r + "\n\n" for r in format_page_owner(df, variant=v).split("\n\n") if r.strip()]
        _CACHE["po"] = (dumps, variants)
    return _CACHE["po"]


def _stacks_corpus():
    if "stacks" not in _CACHE:
        out = {}
        for p in sorted(REAL.glob("*/page_owner_stacks_show_stacks*.txt")):
            out[str(p.relative_to(REAL))] = [e + "\n\n" for e in p.read_text().split("\n\n") if e.strip()]
        _CACHE["stacks"] = out
    return _CACHE["stacks"]


def _slice(rng: random.Random, items: list[str]) -> str:
    n = rng.choice([rng.randint(1, 30), rng.randint(1, 30), rng.randint(100, 400)])
    start = rng.randrange(max(1, len(items) - n))
    return "".join(items[start:start + n])


def _page_owner_base(rng: random.Random) -> tuple[str, bytes]:
    dumps, variants = _page_owner_corpus()
    if rng.random() < 0.3:
        v = rng.choice(sorted(variants))
        return f"page_owner {v}", "".join(variants[v]).encode()
    name = rng.choice(sorted(dumps))
    return name, _slice(rng, dumps[name]).encode()


def _stacks_base(rng: random.Random) -> tuple[str, bytes]:
    corpus = _stacks_corpus()
    name = rng.choice(sorted(corpus))
    return name, _slice(rng, corpus[name]).encode()


def _trace_corpus() -> list[str]:
    """Lines of a simulated machine's trace (every kmem event, lost-event markers) and of
    hand-written 6.12 ftrace text with its header."""
    if "trace" not in _CACHE:
        m = boot(mem="256M", cmdline="page_owner=on", seed=1)
        t = m.tracing(buffer_kb=8, events="kmem:*",
                      reader=tracing.reader(rate="20k/s", start="200ms"))
        m.run(W.mix(W.anon("app", rate=4000, lifetime="300ms"), W.thp("qemu", rate=20, lifetime="1s")),
              duration="1s")
        lines = t.text().splitlines(keepends=True)
        header = ("# tracer: nop\n#\n# entries-in-buffer/entries-written: 7/9   #P:2\n#\n"
                  "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION\n")
        hand = ("  kworker/u8:2-77      [000] d..1.  4411.123457: mm_page_alloc_zone_locked: "
                "page=000000007e1c2b3a pfn=0x20400 order=3 migratetype=0 percpu_refill=1\n"
                "CPU:0 [LOST 12 EVENTS]\n"
                "     kcompactd0-45      [000] d..1.  4411.400000: mm_page_alloc_extfrag: "
                "page=0000000011223344 pfn=0x3e00 alloc_order=0 fallback_order=9 pageblock_order=9 "
                "alloc_migratetype=0 fallback_migratetype=1 fragmenting=0 change_ownership=1\n"
                "CPU:1 [LOST EVENTS]\n")
        _CACHE["trace"] = [header] + lines + hand.splitlines(keepends=True)
    return _CACHE["trace"]


def _trace_base(rng: random.Random) -> tuple[str, bytes]:
    return "trace", _slice(rng, _trace_corpus()).encode()


def _file_base(pattern: str):
    def base(rng: random.Random) -> tuple[str, bytes]:
        if pattern not in _CACHE:
            _CACHE[pattern] = _files(pattern)
        return rng.choice(_CACHE[pattern])
    return base


# --------------------------------------------------------------------------------------
# Capture folders (for Capture, `pextlab report` and `pextlab boot --capture`)
# --------------------------------------------------------------------------------------

def _base_capture(scenario: str, root: Path) -> Path:
    """A copy of a scenario's unlabelled files with a short page_owner dump and stack list."""
    d = root / "base" / scenario
    if d.is_dir():
        return d
    d.mkdir(parents=True)
    src = REAL / scenario
    for p in sorted(src.iterdir()):
        stem = p.name.split(".")[0]
        if p.name not in (f"{stem}.txt", f"{stem}.txt.gz") or stem in ("leaky_pfns",):
            continue
        if stem == "page_owner":
            recs = _records(p)[:60]
            (d / "page_owner.txt").write_text("".join(recs))
        elif stem == "page_owner_stacks_show_stacks":
            (d / p.name).write_text("".join(e + "\n\n" for e in p.read_text().split("\n\n")[:20] if e.strip()))
        else:
            shutil.copyfile(p, d / p.name)
    return d


def _capture_input(rng: random.Random, names: tuple[str, ...] | None) -> tuple[str, str, bytes]:
    """(scenario, file name in the capture, its bytes) to damage."""
    scenario = rng.choice(SCENARIOS)
    src = REAL / scenario
    choices = [p.name for p in sorted(src.iterdir())
               if p.name.split(".")[0] in (names or (p.name.split(".")[0],))
               and p.name.count(".") == 1 and p.suffix == ".txt"]
    name = rng.choice(choices)
    data = (src / name).read_bytes()
    return scenario, name, data


def _make_capture(inp: Input, tmp: Path) -> Path:
    base = _base_capture(inp.extra["scenario"], tmp)
    d = tmp / f"cap-{inp.target}-{inp.seed}"
    if d.exists():
        shutil.rmtree(d)
    d.mkdir()
    for p in base.iterdir():
        if p.name != inp.file:
            os.symlink(p, d / p.name)
    if not inp.extra.get("deleted"):
        (d / inp.file).write_bytes(inp.data)
    return d


# --------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------

def _named(e: ParseError) -> None:
    if not e.file or e.line is None or not isinstance(e.line, int) or e.line < 1 or not e.expected:
        raise Failure("unnamed", f"ParseError without file/line/expected: {e}")


def reader_target(fn):
    """A reader target: any result, or a named ParseError."""
    def run(inp: Input, path: Path, tmp: Path) -> str:
        try:
            fn(path)
        except ParseError as e:
            _named(e)
            return "parse_error"
        return "result"
    return run


def _frames_equal(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    try:
        pd.testing.assert_frame_equal(a.reset_index(drop=True).astype(object),
                                      b.reset_index(drop=True).astype(object))
    except AssertionError:
        return False
    return True


def _page_owner(inp: Input, path: Path, tmp: Path) -> str:
    """Strict whole read; chunked read (same rows or the same error); non-strict read."""
    rng = random.Random(inp.seed)
    try:
        whole, err = read_page_owner(path), None
    except ParseError as e:
        _named(e)
        whole, err = None, e
    chunk = rng.choice([1, 3, 50, 200])
    try:
        parts = list(iter_page_owner_chunks(path, chunk_records=chunk))
        cerr = None
    except ParseError as e:
        _named(e)
        parts, cerr = [], e
    if err is not None or cerr is not None:
        if err is None or cerr is None or (err.line, err.expected) != (cerr.line, cerr.expected):
            raise Failure("disagreement", f"chunk_records={chunk}: whole read {err!r}, chunked {cerr!r}")
    elif not _frames_equal(pd.concat(parts, ignore_index=True) if parts else whole.iloc[:0], whole):
        raise Failure("disagreement", f"chunk_records={chunk}: chunked rows differ from the whole read")
    try:
        read_page_owner(path, strict=False)
    except ParseError as e:       # a damaged gzip stream cannot be skipped over
        _named(e)
    return "parse_error" if err is not None else "result"


def _iomem(path: Path):
    system_ram_ranges(read_iomem(path))


def _memory_blocks(path: Path):
    df = read_memory_blocks(path)
    again = read_memory_blocks(format_memory_blocks(df))
    if not _frames_equal(again, df):
        raise Failure("disagreement", "memory_blocks text does not read back the same")


def _extfrag(what: str):
    def fn(path: Path):
        read_index_file(path, what)
        read_extfrag(path, None) if what == "unusable_index" else read_extfrag(None, path)
    return fn


def _cli(argv_of):
    """A command target: exit 0, 1 or 2, no exception out of main, no traceback printed."""
    def run(inp: Input, path: Path, tmp: Path) -> str:
        where = _make_capture(inp, tmp) if inp.extra.get("scenario") else path
        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                rc = cli_main(argv_of(where, tmp))
        except SystemExit as e:                  # argparse
            rc = e.code
        except BaseException as e:               # noqa: BLE001 - what the user would see as a traceback
            raise Failure("cli_traceback", "".join(traceback.format_exception(e))[-1500:]) from None
        if "Traceback (most recent call last)" in err.getvalue() or rc not in (0, 1, 2):
            raise Failure("cli_traceback", f"exit {rc}: {err.getvalue()[-1500:]}")
        return "result" if rc == 0 else "clean_error"
    return run


def _capture(fn):
    """A Capture-level target: a result, a named ParseError or another PextlabError."""
    def run(inp: Input, path: Path, tmp: Path) -> str:
        cap = Capture(_make_capture(inp, tmp))
        try:
            fn(cap)
        except ParseError as e:
            _named(e)
            return "parse_error"
        except PextlabError:
            return "clean_error"
        return "result"
    return run


def _layout(cap: Capture):
    lay = cap.layout
    cap.cmdline
    return lay


# --------------------------------------------------------------------------------------
# The targets
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    base: object                    # rng -> (label, bytes), or None for capture targets
    run: object                     # (Input, path, tmp) -> kind
    capture_files: tuple | None = None   # capture targets: which files may be damaged (None: any)


TARGETS: dict[str, Target] = {
    "page_owner": Target(_page_owner_base, _page_owner),
    "show_stacks": Target(_stacks_base, reader_target(read_show_stacks)),
    "buddyinfo": Target(_file_base("*/buddyinfo*.txt"), reader_target(read_buddyinfo)),
    "pagetypeinfo": Target(_file_base("*/pagetypeinfo*.txt"), reader_target(read_pagetypeinfo)),
    "zoneinfo": Target(_file_base("*/zoneinfo*.txt"), reader_target(read_zoneinfo)),
    "unusable_index": Target(_file_base("*/unusable_index*.txt"), reader_target(_extfrag("unusable_index"))),
    "extfrag_index": Target(_file_base("*/extfrag_index*.txt"), reader_target(_extfrag("extfrag_index"))),
    "meminfo": Target(_file_base("*/meminfo*.txt"), reader_target(read_meminfo)),
    "vmstat": Target(_file_base("*/vmstat*.txt"), reader_target(read_vmstat)),
    "iomem": Target(_file_base("*/iomem*.txt"), reader_target(_iomem)),
    "dmesg": Target(_file_base("*/dmesg*.txt"), reader_target(read_dmesg)),
    "memory_blocks": Target(_file_base("*/memory_blocks*.txt"), reader_target(_memory_blocks)),
    "trace": Target(_trace_base, reader_target(read_trace)),
    "cma_debugfs": Target(_file_base("*/cma_debugfs*.txt"), reader_target(read_cma)),
    "cma_sysfs": Target(_file_base("*/cma_sysfs*.txt"),
                        reader_target(lambda p: read_cma(REAL / "h-1G-cma64M" / "cma_debugfs.txt", p))),
    "capture_layout": Target(None, _capture(_layout), ("cmdline", "iomem", "dmesg", "cpuinfo_summary")),
    "cli_sort": Target(_page_owner_base, _cli(lambda path, tmp: ["sort", str(path)])),
    "cli_report": Target(None, _cli(lambda d, tmp: ["report", str(d)])),
    "cli_boot": Target(None, _cli(lambda d, tmp: ["boot", "--capture", str(d), "--quiet"]),
                       ("cmdline", "iomem", "dmesg", "cpuinfo_summary")),
}
#: Share of the inputs each target gets.
WEIGHTS = {"page_owner": 14, "show_stacks": 6, "buddyinfo": 7, "pagetypeinfo": 8, "zoneinfo": 8,
           "unusable_index": 4, "extfrag_index": 4, "meminfo": 5, "vmstat": 5, "iomem": 6, "dmesg": 7,
           "memory_blocks": 7, "trace": 6, "cma_debugfs": 3, "cma_sysfs": 2, "capture_layout": 4, "cli_sort": 3, "cli_report": 1, "cli_boot": 1}


def make_input(target: str, seed: int) -> Input:
    """The input number ``seed`` of ``target`` (the same bytes on every run)."""
    rng = random.Random(f"{target}:{seed}")
    t = TARGETS[target]
    extra: dict = {}
    file = ""
    if t.base is None or target == "capture_layout":
        scenario, file, data = _capture_input(rng, t.capture_files)
        base = f"{scenario}/{file}"
        extra = {"scenario": scenario, "deleted": rng.random() < 0.1}
    else:
        base, data = t.base(rng)
    if extra.get("deleted"):
        return Input(target, seed, b"", base, ["deleted"], file, extra)
    data, steps = mutate(data, rng)
    data, how = encode(data, rng)
    return Input(target, seed, data, base, steps + [how], file, extra)


def run_input(inp: Input, tmp: Path) -> str:
    """Feed ``inp`` to its target; returns the outcome kind or raises :class:`Failure`."""
    path = tmp / f"input-{inp.target}-{inp.seed}.txt"
    path.write_bytes(inp.data)
    try:
        return TARGETS[inp.target].run(inp, path, tmp)
    except Failure:
        raise
    except Exception as e:                         # noqa: BLE001 - the failure being looked for
        raise Failure("uncaught", "".join(traceback.format_exception(e))[-2000:]) from None
    finally:
        path.unlink()
        cap = tmp / f"cap-{inp.target}-{inp.seed}"
        if cap.exists():
            shutil.rmtree(cap)
