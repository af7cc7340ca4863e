"""A simulated machine written as a capture folder: ``Machine.write_capture``.

The folder follows the capture convention of :mod:`pextlab.capture` (what
``pextlab capture`` writes on a live machine and ``data/real-kernel/*``
follow): one file per kernel file, ``<name>[.<label>].txt``, the page_owner
dump gzipped (``page_owner[.<label>].txt.gz``), and a ``MANIFEST.tsv`` with one
row per file (``name file bytes status uptime_s note``, the columns
``pextlab capture`` writes; ``bytes`` counts the uncompressed text, ``uptime_s``
is the simulated clock when the file was printed).  Writing again with another
label adds that label's files and appends to the manifest, as a second
``pextlab capture --snapshot`` does.

Every file is printed by the writer the kernel interface has in pextlab
(``m.proc``, ``m.debugfs``, the procfs formatters), so :func:`pextlab.read_capture`
reads the folder back into the same frames, and ``pextlab sort`` (the kernel's
``tools/mm/page_owner_sort``) reads its page_owner dump.  The bytes depend only
on the machine: gzip streams carry no name and mtime 0, nothing of the host
(paths, dates, user) is written.

Files, in the order they are printed (reading pagetypeinfo drains the per-cpu
lists, as the kernel does, so the order is part of the contract):

==================================  ==============================================
``cmdline``                         the kernel command line
``iomem``                           System RAM ranges of the layout and the kernel
                                    image inside them (``Kernel code`` ..
                                    ``Kernel bss``), /proc/iomem's format
``cpuinfo_summary``                 the number of CPUs
``meminfo`` ``buddyinfo``           /proc/...
``pagetypeinfo`` ``zoneinfo``
``vmstat``
``extfrag_index`` ``unusable_index``  debugfs extfrag/...
``memory_blocks``                   /sys/devices/system/memory
``page_owner``                      debugfs page_owner (gzipped; skipped with
                                    page_owner off)
``page_owner_stacks_show_stacks``   debugfs page_owner_stacks/show_stacks (v6.9+)
``dmesg``                           the kernel log
==================================  ==============================================

>>> import tempfile, pextlab
>>> m = pextlab.boot(mem="512M", cmdline="page_owner=on")
>>> d = tempfile.mkdtemp()
>>> recs = m.write_capture(d, label="t0s")
>>> [r["file"] for r in recs][:3]
['cmdline.t0s.txt', 'iomem.t0s.txt', 'cpuinfo_summary.t0s.txt']
>>> pextlab.read_capture(d, snapshot="t0s").layout.ram == m.layout.ram
True
"""
from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

from .errors import PextlabError
from .kernel.boot import KERNEL_IMAGE
from .procfs.iomem import IomemEntry, format_iomem
from .procfs.meminfo import format_meminfo
from .procfs.memory_blocks import format_memory_blocks
from .procfs.vmstat import format_vmstat

__all__ = ["write_capture", "alias_snapshot", "read_manifest", "iomem_text", "MANIFEST_COLUMNS",
           "CAPTURE_FILES"]

#: The columns of MANIFEST.tsv (those ``pextlab capture`` writes).
MANIFEST_COLUMNS = ("name", "file", "bytes", "status", "uptime_s", "note")
#: The kernel files a simulated machine writes, in the order they are printed.
CAPTURE_FILES = ("cmdline", "iomem", "cpuinfo_summary", "meminfo", "buddyinfo", "pagetypeinfo",
                 "zoneinfo", "vmstat", "extfrag_index", "unusable_index", "memory_blocks",
                 "page_owner", "page_owner_stacks_show_stacks", "dmesg")
_GZIPPED = ("page_owner",)
_LABEL = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")


def iomem_text(layout) -> str:
    """/proc/iomem for a layout: the RAM below the first range reserved, every contiguous
    run of RAM one ``System RAM`` resource (e820 knows no nodes), and the kernel image
    nested in the range that holds it, cut as the 6.12 build of ``data/real-kernel``
    cuts it (``KERNEL_IMAGE`` of :mod:`pextlab.kernel.boot`), moved to the layout's
    image start.

    >>> import pextlab
    >>> print(iomem_text(pextlab.boot(mem="512M").layout), end="")
    00000000-00000fff : Reserved
    00001000-0009efff : System RAM
    00100000-1ffdffff : System RAM
      01000000-015fffff : Kernel code
      01600000-01730fff : Kernel rodata
      01800000-01f6e1ff : Kernel data
      021b9000-023fffff : Kernel bss
    """
    runs: list[list[int]] = []
    for r in layout.ram:
        if runs and runs[-1][1] == r.start_pfn:
            runs[-1][1] = r.end_pfn
        else:
            runs.append([r.start_pfn, r.end_pfn])
    entries = []
    if runs[0][0] > 0:
        entries.append(IomemEntry(0, (runs[0][0] << 12) - 1, "Reserved"))
    k0, k1 = (p << 12 for p in layout.kernel_image)
    shift = k0 - KERNEL_IMAGE["code"]
    ki = KERNEL_IMAGE
    # arch/x86/kernel/setup.c: code_resource .. bss_resource, children of System RAM
    parts = (("Kernel code", ki["code"], ki["code"] + 0x600000),
             ("Kernel rodata", ki["code"] + 0x600000, ki["rodata_end"]),
             ("Kernel data", ki["data"], ki["data_end"]),
             ("Kernel bss", ki["bss"], ki["end"]))
    for a, b in runs:
        entries.append(IomemEntry(a << 12, (b << 12) - 1, "System RAM"))
        if a << 12 <= k0 < b << 12:
            for name, s, e in parts:
                end = k1 if name == "Kernel bss" else e + shift
                entries.append(IomemEntry(s + shift, end - 1, name, 1))
    return format_iomem(entries)


def _texts(machine):
    """(name, text or None, note) of every capture file, printed in CAPTURE_FILES order."""
    m = machine
    yield "cmdline", m.cmdline + "\n", ""
    yield "iomem", iomem_text(m.layout), ""
    yield "cpuinfo_summary", f"{m.layout.nr_cpus}\n", ""
    yield "meminfo", format_meminfo(m.df_meminfo()), ""
    for name in ("buddyinfo", "pagetypeinfo", "zoneinfo"):
        yield name, m.proc(name), ""
    yield "vmstat", format_vmstat(m.df_vmstat()), ""
    for name in ("extfrag_index", "unusable_index"):
        yield name, m.debugfs(f"extfrag/{name}"), ""
    yield "memory_blocks", format_memory_blocks(m.df_memory_blocks()), ""
    if m.mm.page_owner is None:
        yield "page_owner", None, "page_owner is disabled (boot with page_owner=on)"
        yield "page_owner_stacks_show_stacks", None, "page_owner is disabled"
    else:
        yield "page_owner", m.debugfs("page_owner"), ""
        if m.profile.has_show_stacks:
            yield "page_owner_stacks_show_stacks", m.debugfs("page_owner_stacks/show_stacks"), ""
        else:
            yield ("page_owner_stacks_show_stacks", None,
                   f"not in {m.profile.name} (page_owner_stacks arrived in v6.9)")
    yield "dmesg", m.dmesg, ""


def _write_manifest(folder: Path, records: list[dict]) -> None:
    path = folder / "MANIFEST.tsv"
    new = not path.exists()
    with open(path, "a", encoding="utf-8", newline="\n") as fh:
        if new:
            fh.write("\t".join(MANIFEST_COLUMNS) + "\n")
        fh.writelines("\t".join(str(r[c]).replace("\t", " ").replace("\n", " ")
                               for c in MANIFEST_COLUMNS) + "\n" for r in records)


def write_capture(machine, folder, label: str | None = None) -> list[dict]:
    """Write ``machine``'s kernel files into ``folder`` as a capture (see the module docstring).

    Parameters
    ----------
    machine : pextlab.Machine
    folder : path
        Created if missing.  Files of the same label are replaced; the manifest grows.
    label : str, optional
        Snapshot label put before ``.txt`` (``"t60s"`` -> ``page_owner.t60s.txt.gz``);
        ``read_capture(folder, snapshot=label)`` reads them.  Letters, digits, ``_``, ``-``.

    Returns
    -------
    list of dict
        One manifest row per file (``MANIFEST_COLUMNS``), skipped files included.
    """
    if label is not None and (not isinstance(label, str) or not _LABEL.match(label)):
        raise PextlabError(f"a capture label is letters, digits, '_' and '-' (not starting "
                           f"with '-'), got {label!r}")
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PextlabError(f"cannot create capture folder {folder}: {e}") from None
    suffix = f".{label}" if label else ""
    uptime = f"{machine.mm.clock_ns / 1e9:.2f}"
    records = []
    for name, text, note in _texts(machine):
        if text is None:
            records.append(dict(name=name + suffix, file="", bytes=0, status="skipped",
                                uptime_s=uptime, note=note))
            continue
        data = text.encode("utf-8")
        if name in _GZIPPED:
            fname = f"{name}{suffix}.txt.gz"
            # no file name, mtime 0: the same dump gives the same bytes
            (folder / fname).write_bytes(gzip.compress(data, compresslevel=6, mtime=0))
        else:
            fname = f"{name}{suffix}.txt"
            (folder / fname).write_bytes(data)
        records.append(dict(name=name + suffix, file=fname, bytes=len(data), status="ok",
                            uptime_s=uptime, note=note))
    _write_manifest(folder, records)
    return records


def read_manifest(folder) -> list[dict]:
    """The rows of ``folder/MANIFEST.tsv`` as dicts (``[]`` when there is none)."""
    path = Path(folder) / "MANIFEST.tsv"
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines:
        return []
    head = lines[0].split("\t")
    return [dict(zip(head, ln.split("\t"))) for ln in lines[1:] if ln]


def alias_snapshot(folder, label: str, as_label: str | None = None) -> list[dict]:
    """Copy the files of snapshot ``label`` to ``as_label`` (None: the unlabelled names,
    which ``read_capture(folder)`` reads) and add their manifest rows: the latest
    snapshot can also be the folder's default without printing it twice."""
    folder = Path(folder)
    rows = [r for r in read_manifest(folder) if r["name"].endswith(f".{label}")]
    if not rows:
        raise PextlabError(f"capture {folder} has no snapshot {label!r} in its MANIFEST.tsv")
    new = f".{as_label}" if as_label else ""
    out = []
    for r in rows:
        base = r["name"][:-len(label) - 1]
        rec = dict(r, name=base + new)
        if r["file"]:
            rec["file"] = r["file"].replace(f"{base}.{label}.", f"{base}{new}.", 1)
            shutil.copyfile(folder / r["file"], folder / rec["file"])
        out.append(rec)
    _write_manifest(folder, out)
    return out
