"""``pextlab capture``: copy a live machine's memory files into a capture folder.

    sudo pextlab capture OUTDIR [--snapshot LABEL] [--no-page-owner] [--kpageflags] [--root DIR]

:func:`collect` writes the folder layout :mod:`pextlab.capture` reads (and
``data/real-kernel/*`` follows): one file per kernel file, ``<name>.txt``, or
``<name>.txt.gz`` when it grew past ``compress_over`` bytes, with the snapshot
label before the suffix (``buddyinfo.after_compact.txt``), and a
``MANIFEST.tsv`` with one row per file (``name file bytes status uptime_s
note``; ``bytes`` counts the uncompressed content).  Running it again with
another ``--snapshot`` adds the labelled files and appends to the manifest.

Files, in the order they are taken (cheap and static first, then the
counters, then the page_owner dump, which perturbs memory, then the log):

=================================  ===================================================
``cmdline``                        /proc/cmdline
``iomem``                          /proc/iomem (root only: addresses are 0 otherwise)
``cpuinfo_summary``                number of CPUs, then the first ``model name`` line
``sys_vm``                         every /proc/sys/vm file as ``name = value``
``meminfo`` ``buddyinfo``          /proc/...
``pagetypeinfo`` ``zoneinfo``
``vmstat``
``extfrag_index``                  debugfs ``extfrag/extfrag_index``
``unusable_index``                 debugfs ``extfrag/unusable_index``
``memory_blocks``                  /sys/devices/system/memory, as
                                   :func:`pextlab.procfs.memory_blocks.format_memory_blocks`
``node_info``                      /sys/devices/system/node: masks, then per node
                                   cpulist, distance, meminfo and numastat
``kpageflags.bin.gz``              /proc/kpageflags (only with ``--kpageflags``)
``page_owner``                     debugfs ``page_owner``, streamed (skipped with
                                   ``--no-page-owner``)
``page_owner_stacks_show_stacks``  debugfs ``page_owner_stacks/show_stacks``
``dmesg``                          /dev/kmsg read non-blocking (records turned into
                                   ``[    5.123456] text`` lines), else ``dmesg``
=================================  ===================================================

Nothing is ever written to the kernel: no ``mount``, no ``compact_memory``, no
``count_threshold``.  Whatever the machine does not offer (no debugfs mounted,
page_owner not built in or not enabled, not root, an unreadable file) is
skipped with a note in the manifest and one line on stderr.  The capture is
usable when the essentials -- ``iomem``, ``zoneinfo``, ``buddyinfo`` -- were
taken; :func:`main` exits 0 then, 1 otherwise.

``root=`` (``--root``) reads ``proc/``, ``sys/`` and ``dev/kmsg`` under another
directory, e.g. a fake tree in a test or a copied ``/sys``.
"""
from __future__ import annotations

import argparse
import errno
import gzip
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .errors import PextlabError

__all__ = ["collect", "main", "CollectResult", "FileRecord", "ESSENTIALS", "kmsg_to_dmesg"]

#: Files without which a capture cannot describe the machine's memory.
ESSENTIALS = ("iomem", "zoneinfo", "buddyinfo")
_CHUNK = 1 << 20
_NODE_MASKS = ("possible", "online", "has_normal_memory", "has_memory", "has_cpu")
_KMSG_RE = re.compile(r"^(\d+),(\d+),(\d+),[^;]*;(.*)$")
_ESC_RE = re.compile(r"\\x([0-9a-fA-F]{2})")


@dataclass
class FileRecord:
    """One row of ``MANIFEST.tsv``."""

    name: str                 # kernel file name as the capture convention spells it
    file: str                 # file written in the folder ("" when skipped)
    bytes: int                # uncompressed bytes written (0 when skipped)
    status: str               # "ok", "skipped", "failed"
    note: str = ""
    uptime_s: str = ""        # /proc/uptime when the file was taken

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class CollectResult:
    """What :func:`collect` wrote.

    ``records`` lists every file attempted, in order; ``ok`` is True when all
    :data:`ESSENTIALS` were captured.
    """

    outdir: Path
    snapshot: str | None
    records: list[FileRecord] = field(default_factory=list)

    def record(self, name: str) -> FileRecord | None:
        for r in self.records:
            if r.name == name:
                return r
        return None

    @property
    def captured(self) -> list[str]:
        return [r.name for r in self.records if r.ok]

    @property
    def skipped(self) -> dict[str, str]:
        """Name -> note for every file not captured."""
        return {r.name: r.note for r in self.records if not r.ok}

    @property
    def missing_essentials(self) -> list[str]:
        got = set(self.captured)
        return [n for n in ESSENTIALS if n not in got]

    @property
    def ok(self) -> bool:
        return not self.missing_essentials


class _Skip(Exception):
    """A file the machine does not offer; the message is the manifest note."""

    def __init__(self, note: str, status: str = "skipped"):
        super().__init__(note)
        self.status = status


def _why(e: OSError, what: str) -> str:
    if e.errno == errno.ENOENT:
        return f"{what} does not exist"
    if e.errno in (errno.EACCES, errno.EPERM):
        return f"{what}: permission denied (run as root)"
    return f"{what}: {os.strerror(e.errno) if e.errno else e}"


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------
class _Sink:
    """Write a file as plain text, switching to gzip once it passes ``compress_over`` bytes.

    The plain prefix goes to a ``.part`` file; on crossing the threshold it is copied into
    ``<stem>.gz.part`` and streaming continues compressed, so memory use stays one chunk.
    ``finish()`` renames the part into place and removes other variants of the same
    capture file (so an old ``x.txt`` cannot shadow a new ``x.txt.gz``).
    """

    def __init__(self, outdir: Path, stem: str, ext: str, compress_over: int | None,
                 always_gzip: bool = False):
        self.outdir, self.stem, self.ext = outdir, stem, ext
        self.limit = compress_over
        self.nbytes = 0
        self.gz = False
        self.plain_part = outdir / f"{stem}{ext}.part"
        self.gz_part = outdir / f"{stem}{ext}.gz.part"
        if always_gzip:
            self._open_gzip()
        else:
            self.fh = open(self.plain_part, "wb")

    def _open_gzip(self):
        self.gz = True
        self.fh = gzip.open(self.gz_part, "wb", compresslevel=6)

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.nbytes += len(data)
        if not self.gz and self.limit is not None and self.nbytes > self.limit:
            self.fh.close()
            self._open_gzip()
            with open(self.plain_part, "rb") as src:
                shutil.copyfileobj(src, self.fh, _CHUNK)
            self.plain_part.unlink()
        self.fh.write(data)

    def finish(self) -> str:
        self.fh.close()
        final = self.outdir / (f"{self.stem}{self.ext}" + (".gz" if self.gz else ""))
        for suffix in ("", ".gz"):
            other = self.outdir / f"{self.stem}{self.ext}{suffix}"
            if other != final and other.exists():
                other.unlink()
        os.replace(self.gz_part if self.gz else self.plain_part, final)
        return final.name

    def abort(self) -> None:
        try:
            self.fh.close()
        except OSError:
            pass
        for p in (self.plain_part, self.gz_part):
            if p.exists():
                p.unlink()


# --------------------------------------------------------------------------------------------
# producers: each yields bytes chunks, or raises _Skip
# --------------------------------------------------------------------------------------------
def _stream_file(path: Path, what: str):
    """Chunks of a kernel file, read with os.read so debugfs files stream record by record."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        raise _Skip(_why(e, what)) from None
    try:
        while True:
            try:
                data = os.read(fd, _CHUNK)
            except OSError as e:
                if e.errno == errno.EINTR:
                    continue
                raise _Skip(_why(e, what), "failed") from None
            if not data:
                return
            yield data
    finally:
        os.close(fd)


def _read_small(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None


def _cpuinfo_summary(root: Path):
    path = root / "proc/cpuinfo"
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        raise _Skip(_why(e, "/proc/cpuinfo")) from None
    n = sum(1 for line in text.splitlines() if re.match(r"^processor\s*:", line))
    model = next((line for line in text.splitlines() if line.startswith("model name")), None)
    out = f"{n}\n" + (f"{model}\n" if model else "")
    yield out.encode()


def _sys_vm(root: Path):
    d = root / "proc/sys/vm"
    if not d.is_dir():
        raise _Skip("/proc/sys/vm does not exist")
    lines = []
    for p in sorted(d.iterdir(), key=lambda p: p.name):
        if p.is_dir():
            continue
        try:
            mode = p.stat().st_mode
        except OSError:
            mode = 0o444
        if not mode & 0o444:   # write-only knobs (compact_memory, drop_caches): never touch
            lines.append(f"{p.name} = <write-only>")
            continue
        try:
            value = " ".join(p.read_text(errors="replace").split())
        except OSError as e:
            value = f"<unreadable: {os.strerror(e.errno) if e.errno else e}>"
        lines.append(f"{p.name} = {value}")
    yield ("\n".join(lines) + "\n").encode()


def _memory_blocks(root: Path):
    # pandas: kept off the command's start (a fast-start module, tests/test_architecture.py)
    from .procfs.memory_blocks import format_memory_blocks, read_memory_blocks_sysfs
    d = root / "sys/devices/system/memory"
    if not d.is_dir():
        raise _Skip("/sys/devices/system/memory does not exist (no memory hotplug sysfs)")
    try:
        df = read_memory_blocks_sysfs(d)
    except Exception as e:  # a block that vanished mid-read, an unparsable attribute
        raise _Skip(f"/sys/devices/system/memory: {e}", "failed") from None
    yield format_memory_blocks(df).encode()


def _node_info(root: Path):
    d = root / "sys/devices/system/node"
    if not d.is_dir():
        raise _Skip("/sys/devices/system/node does not exist (kernel without NUMA)")
    out = []
    for m in _NODE_MASKS:
        v = _read_small(d / m)
        if v is not None:
            out.append(f"{m}: {v.strip()}")
    nodes = sorted((int(p.name[4:]), p) for p in d.iterdir() if re.fullmatch(r"node\d+", p.name))
    for nid, p in nodes:
        out.append(f"### /sys/devices/system/node/node{nid}")
        for key in ("cpulist", "distance"):
            v = _read_small(p / key)
            if v is not None:
                out.append(f"{key}: {v.strip()}")
        v = _read_small(p / "meminfo")
        if v is not None:
            out.extend(v.rstrip("\n").splitlines())
        v = _read_small(p / "numastat")
        if v is not None:
            out.append("--- numastat")
            out.extend(v.rstrip("\n").splitlines())
    yield ("\n".join(out) + "\n").encode()


def kmsg_to_dmesg(records) -> str:
    """Turn ``/dev/kmsg`` records into ``dmesg`` lines: ``[    5.123456] text``.

    ``records`` is an iterable of record strings ``"prio,seq,usec,flags;text"``;
    continuation lines (``" KEY=value"`` dictionary lines) are dropped, ``\\xNN``
    escapes are undone, and every line of a multi-line message gets the prefix,
    as the kernel's syslog output does.  Lines already in dmesg form pass through.
    """
    out = []
    for rec in records:
        for raw in rec.split("\n"):
            if not raw or raw.startswith(" "):
                continue
            m = _KMSG_RE.match(raw)
            if not m:
                out.append(raw)
                continue
            usec = int(m.group(3))
            prefix = f"[{usec // 1_000_000:5d}.{usec % 1_000_000:06d}] "
            text = _ESC_RE.sub(lambda x: chr(int(x.group(1), 16)), m.group(4))
            for line in text.split("\n"):
                out.append(prefix + line)
    return "".join(line + "\n" for line in out)


def _read_kmsg(path: Path) -> list[str]:
    """All records now in the kernel log buffer, without blocking for new ones."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    records: list[str] = []
    try:
        if not os.path.isfile(path):
            # the character device: one record per read(); EAGAIN at the end
            while True:
                try:
                    data = os.read(fd, 1 << 16)
                except BlockingIOError:
                    break
                except OSError as e:
                    if e.errno == errno.EPIPE:   # records overwritten while reading: go on
                        continue
                    if e.errno == errno.EINTR:
                        continue
                    raise
                if not data:
                    break
                records.append(data.decode("utf-8", "replace"))
        else:
            chunks = []
            while True:
                data = os.read(fd, _CHUNK)
                if not data:
                    break
                chunks.append(data)
            records = [b"".join(chunks).decode("utf-8", "replace")]
    finally:
        os.close(fd)
    return records


def _dmesg(root: Path):
    kmsg = root / "dev/kmsg"
    why = None
    try:
        text = kmsg_to_dmesg(_read_kmsg(kmsg))
        if text:
            yield text.encode()
            return
        why = "/dev/kmsg is empty"
    except OSError as e:
        why = _why(e, "/dev/kmsg")
    if root.resolve() == Path("/"):
        try:
            cp = subprocess.run(["dmesg"], capture_output=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as e:
            raise _Skip(f"{why}; dmesg command failed: {e}") from None
        if cp.returncode == 0 and cp.stdout:
            yield cp.stdout
            return
        err = cp.stderr.decode(errors="replace").strip().splitlines()
        raise _Skip(f"{why}; dmesg exited {cp.returncode}" + (f": {err[-1]}" if err else ""))
    raise _Skip(why)


def _debugfs(root: Path, rel: str, what: str, disabled_hint: str | None = None):
    """A debugfs file, with notes that say why it is not there."""
    dbg = root / "sys/kernel/debug"
    try:
        mounted = False
        if dbg.is_dir():
            with os.scandir(dbg) as it:
                mounted = next(it, None) is not None
    except OSError as e:
        raise _Skip(_why(e, "/sys/kernel/debug")) from None
    if not mounted:
        raise _Skip("debugfs is not mounted on /sys/kernel/debug "
                    "(mount -t debugfs none /sys/kernel/debug)")
    path = dbg / rel
    if not path.exists():
        raise _Skip(f"/sys/kernel/debug/{rel} does not exist"
                    + (f" ({disabled_hint})" if disabled_hint else ""))
    try:
        yield from _stream_file(path, f"/sys/kernel/debug/{rel}")
    except _Skip as s:
        if "Invalid argument" in str(s) and disabled_hint:
            # page_owner's read returns -EINVAL when page_owner was not enabled at boot
            raise _Skip(f"/sys/kernel/debug/{rel}: page_owner is disabled (boot with page_owner=on)") from None
        raise


def _cma_tree(root: Path, rel: str):
    """Every readable file of every CMA area under /sys/kernel/<rel> (``debug/cma``: the
    debugfs files of mm/cma_debug.c; ``mm/cma``: the sysfs counters of mm/cma_sysfs.c),
    sorted by path, each as ``### <path>``, its text and a blank line (the format of
    procfs/cma.py).  Write-only files (``alloc``, ``free``) are left out."""
    d = root / "sys/kernel" / rel
    if rel.startswith("debug/"):
        dbg = root / "sys/kernel/debug"
        try:
            mounted = dbg.is_dir() and next(iter(os.scandir(dbg)), None) is not None
        except OSError as e:
            raise _Skip(_why(e, "/sys/kernel/debug")) from None
        if not mounted:
            raise _Skip("debugfs is not mounted on /sys/kernel/debug "
                        "(mount -t debugfs none /sys/kernel/debug)")
    if not d.is_dir():
        raise _Skip(f"/sys/kernel/{rel} does not exist (no CMA area, or a kernel without "
                    f"{'CONFIG_CMA_DEBUGFS' if rel.startswith('debug/') else 'CONFIG_CMA_SYSFS'})")
    out = []
    try:
        for area in sorted(p for p in d.iterdir() if p.is_dir()):
            for f in sorted(p for p in area.iterdir() if p.is_file()):
                if not f.stat().st_mode & 0o444:
                    continue
                out.append(f"### /sys/kernel/{rel}/{area.name}/{f.name}\n"
                           f"{f.read_text(errors='replace').rstrip(chr(10))}\n\n")
    except OSError as e:
        raise _Skip(_why(e, f"/sys/kernel/{rel}")) from None
    yield "".join(out).encode()        # empty: the kernel has no CMA area


def _iomem_check(data: bytes) -> str:
    """A note when /proc/iomem was read without privileges (every address printed as 0)."""
    addrs = re.findall(rb"^\s*([0-9a-fA-F]+)-([0-9a-fA-F]+) :", data, flags=re.M)
    if addrs and all(int(a, 16) == 0 and int(b, 16) == 0 for a, b in addrs):
        return "addresses are all zero: /proc/iomem must be read as root"
    return ""


# --------------------------------------------------------------------------------------------
# collect
# --------------------------------------------------------------------------------------------
def _plan(root: Path, page_owner: bool, kpageflags: bool):
    proc = root / "proc"
    P = lambda rel, what: (lambda: _stream_file(proc / rel, what))  # noqa: E731
    plan = [
        ("cmdline", ".txt", P("cmdline", "/proc/cmdline")),
        ("iomem", ".txt", P("iomem", "/proc/iomem")),
        ("cpuinfo_summary", ".txt", lambda: _cpuinfo_summary(root)),
        ("sys_vm", ".txt", lambda: _sys_vm(root)),
        ("meminfo", ".txt", P("meminfo", "/proc/meminfo")),
        ("buddyinfo", ".txt", P("buddyinfo", "/proc/buddyinfo")),
        ("pagetypeinfo", ".txt", P("pagetypeinfo", "/proc/pagetypeinfo")),
        ("zoneinfo", ".txt", P("zoneinfo", "/proc/zoneinfo")),
        ("vmstat", ".txt", P("vmstat", "/proc/vmstat")),
        ("extfrag_index", ".txt", lambda: _debugfs(root, "extfrag/extfrag_index", "extfrag_index")),
        ("unusable_index", ".txt", lambda: _debugfs(root, "extfrag/unusable_index", "unusable_index")),
        ("memory_blocks", ".txt", lambda: _memory_blocks(root)),
        ("node_info", ".txt", lambda: _node_info(root)),
        ("cma_debugfs", ".txt", lambda: _cma_tree(root, "debug/cma")),
        ("cma_sysfs", ".txt", lambda: _cma_tree(root, "mm/cma")),
    ]
    if kpageflags:
        plan.append(("kpageflags", ".bin", P("kpageflags", "/proc/kpageflags")))
    if page_owner:
        plan.append(("page_owner", ".txt", lambda: _debugfs(
            root, "page_owner", "page_owner",
            "kernel built without CONFIG_PAGE_OWNER, or page_owner disabled")))
    plan.append(("page_owner_stacks_show_stacks", ".txt", lambda: _debugfs(
        root, "page_owner_stacks/show_stacks", "show_stacks",
        "needs Linux 6.10+ with CONFIG_PAGE_OWNER and page_owner=on")))
    plan.append(("dmesg", ".txt", lambda: _dmesg(root)))
    return plan


def _uptime(root: Path) -> str:
    v = _read_small(root / "proc/uptime")
    return v.split()[0] if v and v.split() else ""


def _write_manifest(outdir: Path, records: list[FileRecord]) -> None:
    path = outdir / "MANIFEST.tsv"
    header = "name\tfile\tbytes\tstatus\tuptime_s\tnote\n"
    new = not path.exists() or path.stat().st_size == 0
    with open(path, "a", encoding="utf-8") as fh:
        if new:
            fh.write(header)
        for r in records:
            note = r.note.replace("\t", " ").replace("\n", " ")
            fh.write(f"{r.name}\t{r.file}\t{r.bytes}\t{r.status}\t{r.uptime_s}\t{note}\n")


def collect(outdir, root="/", snapshot: str | None = None, page_owner: bool = True,
            kpageflags: bool = False, compress_over: int | None = 1_000_000,
            log=None) -> CollectResult:
    """Copy every file pextlab reads from the machine at ``root`` into ``outdir``.

    Parameters
    ----------
    outdir : path
        The capture folder (created when missing; existing files of the same
        name and snapshot are replaced, others are kept).
    root : path
        Where ``proc/``, ``sys/`` and ``dev/kmsg`` live (``"/"`` for the live machine).
    snapshot : str, optional
        Label inserted before the suffix: ``buddyinfo.<snapshot>.txt``.
    page_owner : bool
        Take the full ``/sys/kernel/debug/page_owner`` dump (can be hundreds of MB).
    kpageflags : bool
        Also take ``/proc/kpageflags`` (8 bytes per pfn, always gzipped).
    compress_over : int or None
        Gzip a file once its content passes this many bytes (None: never).
    log : file, optional
        Where skip notes go (default ``sys.stderr``).

    Returns
    -------
    CollectResult
        Every file attempted, with status and note; ``.ok`` tells whether the
        essentials were captured.  Never raises for what the machine lacks.

    Raises
    ------
    PextlabError
        When ``outdir`` cannot be created or written, or the label is not a
        plain word.
    """
    log = sys.stderr if log is None else log
    root = Path(root)
    outdir = Path(outdir)
    if snapshot is not None and not re.fullmatch(r"[A-Za-z0-9_\-]+", snapshot):
        raise PextlabError(f"snapshot label {snapshot!r} must be letters, digits, '_' or '-'")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        probe = outdir / ".pextlab-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise PextlabError(f"cannot write capture folder {outdir}: {e.strerror or e}") from None
    result = CollectResult(outdir=outdir, snapshot=snapshot)
    label = f".{snapshot}" if snapshot else ""
    for name, ext, producer in _plan(root, page_owner, kpageflags):
        uptime = _uptime(root)
        is_bin = ext == ".bin"
        sink = _Sink(outdir, name + label, ext, None if is_bin else compress_over, always_gzip=is_bin)
        try:
            first = b""
            for chunk in producer():
                if name == "iomem" and not first:
                    first = chunk
                sink.write(chunk)
            if sink.nbytes == 0 and name not in ("page_owner", "page_owner_stacks_show_stacks",
                                                 "cma_debugfs", "cma_sysfs"):
                raise _Skip(f"{name}: the kernel returned an empty file")
            fname = sink.finish()
            note = _iomem_check(first) if name == "iomem" else ""
            status = "failed" if note else "ok"
            rec = FileRecord(name, fname, sink.nbytes, status, note, uptime)
        except _Skip as s:
            sink.abort()
            rec = FileRecord(name, "", 0, s.status, str(s), uptime)
        except OSError as e:   # writing the capture failed (disk full, ...)
            sink.abort()
            raise PextlabError(f"writing {outdir}/{name}{label}{ext}: {e.strerror or e}") from None
        except BaseException:
            sink.abort()
            raise
        if not rec.ok:
            print(f"pextlab capture: {name}: {rec.status}: {rec.note}", file=log)
        result.records.append(rec)
    _write_manifest(outdir, result.records)
    return result


def main(argv=None) -> int:
    """``pextlab capture OUTDIR [--snapshot LABEL] [--no-page-owner] [--kpageflags] [--root DIR]``."""
    ap = argparse.ArgumentParser(
        prog="pextlab capture",
        description="Copy this machine's /proc, sysfs and debugfs memory files into a capture "
                    "folder that pextlab.read_capture reads.  Run as root (iomem addresses, "
                    "debugfs and kpageflags need it); mount debugfs and boot with "
                    "page_owner=on for the page_owner files.")
    ap.add_argument("outdir", help="capture folder to write (created if missing)")
    ap.add_argument("--snapshot", metavar="LABEL",
                    help="label the files (buddyinfo.LABEL.txt), e.g. after_compact")
    ap.add_argument("--no-page-owner", action="store_true",
                    help="skip the full /sys/kernel/debug/page_owner dump")
    ap.add_argument("--kpageflags", action="store_true", help="also take /proc/kpageflags (gzipped)")
    ap.add_argument("--root", default="/", help="read proc/, sys/, dev/ under DIR (default /)")
    ap.add_argument("--compress-over", type=int, default=1_000_000, metavar="BYTES",
                    help="gzip files larger than BYTES (default 1000000)")
    try:
        a = ap.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    if a.root == "/" and hasattr(os, "geteuid") and os.geteuid() != 0:
        print("pextlab capture: not running as root: /proc/iomem addresses read as 0 and "
              "debugfs and /proc/kpageflags are unreadable; use sudo", file=sys.stderr)
    try:
        res = collect(a.outdir, root=a.root, snapshot=a.snapshot, page_owner=not a.no_page_owner,
                      kpageflags=a.kpageflags, compress_over=a.compress_over)
    except PextlabError as e:
        print(f"pextlab capture: {e}", file=sys.stderr)
        return 2
    ok = [r for r in res.records if r.ok]
    print(f"pextlab capture: wrote {len(ok)} of {len(res.records)} files to {res.outdir} "
          f"({sum(r.bytes for r in ok):,} bytes; see MANIFEST.tsv)", file=sys.stderr)
    if not res.ok:
        print("pextlab capture: the capture is not usable: essential file(s) missing: "
              + ", ".join(f"{n} ({res.record(n).note})" for n in res.missing_essentials),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
