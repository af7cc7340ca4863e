"""How faithful is the simulator to a real machine: ``pextlab.compare(cap)``, ``cap.compare()``,
``pextlab compare CAPTURE``.

``compare`` boots the simulator from a capture (its layout -- iomem, the dmesg
node ranges and SRAT -- and its kernel command line) and puts the two side by
side in one tidy frame, one row per figure:

=====================  ==========================================  ===========
metric                 figures                                     tolerance
=====================  ==========================================  ===========
node start/end/present "Early memory node ranges"                  exact
zone start/spanned/    /proc/zoneinfo, per node and zone           exact
present
managed                /proc/zoneinfo                              1 %
min/low/high           zoneinfo watermarks                         1 % (>= 3)
zonelist total pages   "Built N zonelists ... Total pages"         1 %
page_ext bytes         "allocated N bytes of page_ext"             exact
sections               present memory sections per node            exact
memory block size      "x86/mm: Memory block size"                 exact
memory blocks          blocks per node; blocks whose state,        exact
                       valid_zones and nodes agree
early allocated        "page owner found early allocated N pages"  15 %
pageblocks <type>      /proc/pagetypeinfo block counts             none
free order <k>         /proc/buddyinfo free blocks per order       none
=====================  ==========================================  ===========

``verdict`` is ``exact``, ``within tolerance`` or ``differs``; ``why`` says, for
every row that is not exact, what the simulator does not model on this machine:
the boot parameters it does not know, the kernel version, the ≈ calibrated boot
reservations, the time the real machine had run before it was captured.  The
layout figures are the simulator's contract (exact); the others have a stated
tolerance, or none where the real machine's own history decides them.

Layering: this module sits beside the facades.  It imports :mod:`pextlab.machine`
(to boot) and takes an open :class:`~pextlab.capture.Capture`; it never imports
``pextlab.capture``, so ``Capture.compare`` forwards here without a cycle.  (It is
not named ``compare.py``: importing a submodule binds its name on the package,
which would hide the function ``pextlab.compare``.)

>>> from pextlab.capture import read_capture
>>> cap = read_capture("data/real-kernel/b-1G")
>>> df = compare(cap)
>>> df.query("metric == 'spanned'").verdict.unique().tolist()
['exact']
"""
from __future__ import annotations

import csv
import re
import textwrap

import pandas as pd

from .errors import PextlabError
from .machine import boot
from .procfs.dmesg import read_dmesg

__all__ = ["compare", "format_compare", "COLUMNS", "VERDICTS"]

#: The columns of the frame :func:`compare` returns.
COLUMNS = ("metric", "node", "zone", "real", "simulated", "difference", "tolerance", "verdict", "why")
VERDICTS = ("exact", "within tolerance", "differs")


class _Rows:
    """Collects comparison rows; ``tol`` is (relative, absolute floor) or None (no tolerance)."""

    def __init__(self):
        self.rows = []

    def add(self, metric, node, zone, real, sim, tol, why: str = ""):
        real, sim = int(real), int(sim)
        diff = sim - real
        if diff == 0:
            verdict, why = "exact", ""
        elif tol is not None and abs(diff) <= max(tol[1], tol[0] * abs(real)):
            verdict = "within tolerance"
        else:
            verdict = "differs"
        if tol is None:
            text = "none"
        elif tol == (0, 0):
            text = "exact"
        else:
            text = f"{tol[0]:.0%}" + (f" (>= {tol[1]})" if tol[1] else "")
        self.rows.append((metric, node, zone, real, sim, diff, text, verdict, why))


EXACT = (0, 0)


def _uptime(cap) -> float | None:
    """When the capture's zoneinfo was taken, from MANIFEST.tsv (seconds since boot)."""
    man = cap.folder / "MANIFEST.tsv"
    if not man.is_file():
        return None
    taken = cap.path("zoneinfo").name
    with open(man, newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row.get("file") == taken:
                for key in ("uptime_s", "guest_uptime_s"):
                    try:
                        return float(row.get(key) or "")
                    except ValueError:
                        continue
    return None


def _reasons(cap, m, real_info, sim_info) -> dict:
    """Why figures can differ on this machine, keyed by the figures they affect."""
    why = {}
    unknown = list(m.mm.params.unknown)
    version = re.search(r"Linux version (\d+\.\d+)", cap.dmesg)
    common = []
    if version and f"v{version.group(1)}" != m.profile.name:
        common.append(f"captured on Linux {version.group(1)}, simulated with the {m.profile.name} profile")
    if unknown:
        common.append("boot parameters the simulator does not model: " + " ".join(unknown))
    rl, sl = real_info.memory_line or {}, sim_info.memory_line or {}
    res = ["memblock reservations (memmap, percpu, page tables, hashes, kernel image) are "
           "≈ calibrated on the 6.12 build of data/real-kernel"]
    if rl and sl:
        res.append(f"the real 'Memory:' line reserves {rl.get('reserved_kb', 0)}K with a "
                   f"{rl.get('kernel_code_kb', 0)}K+{rl.get('rodata_kb', 0)}K+{rl.get('rwdata_kb', 0)}K "
                   f"kernel, the simulated one {sl.get('reserved_kb', 0)}K with "
                   f"{sl.get('kernel_code_kb', 0)}K+{sl.get('rodata_kb', 0)}K+{sl.get('rwdata_kb', 0)}K")
    why["managed"] = "; ".join(common + res)
    deferred = re.search(r"deferred_init=(\w+): (\d+) pages left to deferred_grow_zone", cap.dmesg)
    if deferred:
        why["deferred"] = (f"deferred_init={deferred.group(1)} (a parameter of this kernel build, not "
                           f"upstream): {deferred.group(2)} pages were left uninitialised at boot and "
                           f"join the zone's managed pages as it grows (deferred_grow_zone); the "
                           f"simulator initialises every page at boot")
    elif "deferred_init" in cap.cmdline:
        why["deferred"] = "deferred_init= (not modelled): pages initialised after boot join managed later"
    mfk = None
    if cap.has("sys_vm"):
        got = re.search(r"^min_free_kbytes = (\d+)", cap.text("sys_vm"), re.M)
        mfk = int(got.group(1)) if got else None
    why["watermarks"] = "; ".join(
        ["watermarks split min_free_kbytes by managed pages (see managed)"]
        + ([f"min_free_kbytes: real {mfk}, simulated {m.mm.min_free_kbytes}"] if mfk is not None else [])
        + common)
    why["early"] = "; ".join(["the kernel allocations made before page_owner starts (slab, stacks, "
                              "page tables, page_ext tables) are ≈ calibrated on the 6.12 build"] + common)
    up = _uptime(cap)
    ran = (f"the real machine had run {up:.0f} s when captured" if up is not None
           else "the real machine had run before it was captured")
    why["runtime"] = "; ".join([ran + " (its own allocations: page cache, slab, user memory); the "
                                "simulated one is freshly booted and idle"] + common)
    why["layout"] = "; ".join(["the layout rules disagree: a simulator bug"] + common)
    return why


def compare(cap, cmdline: str | None = None, profile: str = "v6.12") -> pd.DataFrame:
    """Boot the simulator from ``cap`` and compare it with the real machine.

    Parameters
    ----------
    cap : pextlab.Capture
        An open capture (``read_capture(path, snapshot=...)``); its zoneinfo,
        buddyinfo, pagetypeinfo, dmesg and (when captured) memory_blocks are read.
    cmdline : str, optional
        Boot the simulator with this command line instead of the capture's.
    profile : str
        The simulator's kernel profile.

    Returns
    -------
    DataFrame
        Columns ``metric, node, zone, real, simulated, difference (simulated -
        real), tolerance, verdict, why`` (see the module docstring); ``node`` is
        -1 and ``zone`` "" for machine-wide rows.
    """
    m = boot(layout=cap.layout, cmdline=cap.cmdline if cmdline is None else cmdline, profile=profile)
    real_info, sim_info = cap.dmesg_info, read_dmesg(m.dmesg)
    why = _reasons(cap, m, real_info, sim_info)
    rows = _Rows()
    _layout_rows(rows, real_info, sim_info, why)
    _zone_rows(rows, cap, m, why)
    _boot_rows(rows, cap, m, real_info, sim_info, why)
    _block_rows(rows, cap, m, real_info, why)
    _state_rows(rows, cap, m, why)
    df = pd.DataFrame(rows.rows, columns=list(COLUMNS))
    df["verdict"] = pd.Categorical(df["verdict"], categories=list(VERDICTS))
    return df


def _layout_rows(rows, real_info, sim_info, why):
    if not real_info.node_ranges:
        raise PextlabError("the capture's dmesg has no 'Early memory node ranges': nothing to compare "
                           "the layout with")
    for name, info in (("real", real_info), ("sim", sim_info)):
        if not info.node_ranges:
            raise PextlabError(f"no node ranges in the {name} log")

    def per_node(info):
        out = {}
        for nid, s, e in info.node_ranges:
            a, b, n = out.get(nid, (s, e, 0))
            out[nid] = (min(a, s), max(b, e), n + e - s)
        return out
    real, sim = per_node(real_info), per_node(sim_info)
    for nid in sorted(set(real) | set(sim)):
        r, s = real.get(nid, (0, 0, 0)), sim.get(nid, (0, 0, 0))
        for i, metric in enumerate(("node start_pfn", "node end_pfn", "node present")):
            rows.add(metric, nid, "", r[i], s[i], EXACT, why["layout"])


def _zone_rows(rows, cap, m, why):
    real = cap.df_zones().astype({"zone": str}).set_index(["node", "zone"])
    sim = m.df_zones().astype({"zone": str}).set_index(["node", "zone"])
    last_zone = {}
    for (nid, zone), z in sim.iterrows():
        if z.spanned:
            last_zone[nid] = zone
    for key in list(sim.index) + [k for k in real.index if k not in sim.index]:
        r = real.loc[key] if key in real.index else None
        s = sim.loc[key] if key in sim.index else None
        if not ((r is not None and r.spanned) or (s is not None and s.spanned)):
            continue
        nid, zone = key
        get = lambda z, col: int(z[col]) if z is not None else 0      # noqa: E731
        for col in ("start_pfn", "spanned", "present"):
            rows.add(col, nid, zone, get(r, col), get(s, col), EXACT, why["layout"])
        rows.add("managed", nid, zone, get(r, "managed"), get(s, "managed"), (0.01, 0),
                 _with_deferred(why, "managed", last_zone.get(nid) == zone))
        for col in ("min", "low", "high"):
            rows.add(col, nid, zone, get(r, col), get(s, col), (0.01, 3),
                     _with_deferred(why, "watermarks", True))


def _with_deferred(why: dict, key: str, affected: bool) -> str:
    """The reason ``key``, led by the deferred-init reason where it applies (the zone whose
    pages are initialised late -- and every watermark, which follow all managed pages)."""
    if affected and "deferred" in why:
        return why["deferred"] + "; " + why[key]
    return why[key]


def _boot_rows(rows, cap, m, real_info, sim_info, why):
    if real_info.total_pages is not None:
        rows.add("zonelist total pages", -1, "", real_info.total_pages, sim_info.total_pages or 0,
                 (0.01, 0), why["managed"])
    rows.add("page_ext bytes", -1, "", real_info.page_ext_bytes or 0, sim_info.page_ext_bytes or 0,
             EXACT, why["layout"])
    for key in sorted(set(real_info.early_allocated) | set(sim_info.early_allocated)):
        rows.add("early allocated", key[0], key[1], real_info.early_allocated.get(key, 0),
                 sim_info.early_allocated.get(key, 0), (0.15, 1), why["early"])


def _block_rows(rows, cap, m, real_info, why):
    pps_shift = m.mm.section_shift
    real_secs, sim_secs = {}, {}
    for nid, s, e in real_info.node_ranges:
        real_secs.setdefault(nid, set()).update(range(s >> pps_shift, ((e - 1) >> pps_shift) + 1))
    for sec in m.mm.sections:
        if sec is not None and sec.present:
            for nid in sec.nids:
                sim_secs.setdefault(nid, set()).add(sec.nr)
    for nid in sorted(set(real_secs) | set(sim_secs)):
        rows.add("sections", nid, "", len(real_secs.get(nid, ())), len(sim_secs.get(nid, ())),
                 EXACT, why["layout"])
    if real_info.memory_block_size is not None:
        rows.add("memory block size", -1, "", real_info.memory_block_size, m.mm.memory_block_size,
                 EXACT, why["layout"])
    if not cap.has("memory_blocks"):
        return
    real, sim = cap.df_memory_blocks(), m.df_memory_blocks()
    if not len(real):
        return

    def by_node(df):
        out = {}
        for nodes in df["nodes"].astype(str):
            for n in nodes.split(","):
                out[int(n)] = out.get(int(n), 0) + 1
        return out
    rn, sn = by_node(real), by_node(sim)
    for nid in sorted(set(rn) | set(sn)):
        rows.add("memory blocks", nid, "", rn.get(nid, 0), sn.get(nid, 0), EXACT, why["layout"])
    cols = ["block", "state", "valid_zones", "nodes"]
    key = lambda df: set(map(tuple, df[cols].astype(str).values.tolist()))   # noqa: E731
    rows.add("memory blocks agreeing", -1, "", len(real), len(key(real) & key(sim)), EXACT,
             why["layout"])


def _state_rows(rows, cap, m, why):
    """Pageblocks per type and free blocks per order: the machine's history decides them."""
    last_zone = {z.nid: z.name for z in m.mm.all_zones() if z.spanned_pages}
    try:
        real_pb = cap.df_pageblocks()
    except PextlabError:
        real_pb = None
    if real_pb is not None:
        sim_pb = m.df_pageblocks()
        for (nid, zone, mt), r, s in _joined(real_pb, sim_pb, ["node", "zone", "migratetype"], "nr_blocks"):
            if r or s:
                rows.add(f"pageblocks {mt}", nid, zone, r, s, None,
                         _with_deferred(why, "runtime", last_zone.get(nid) == zone))
    for (nid, zone, order), r, s in _joined(cap.df_buddyinfo(), m.df_buddyinfo(),
                                            ["node", "zone", "order"], "nr_free"):
        rows.add(f"free order {order}", nid, zone, r, s, None,
                 _with_deferred(why, "runtime", last_zone.get(nid) == zone))


def _joined(real: pd.DataFrame, sim: pd.DataFrame, keys: list, col: str):
    text = {k: str for k in keys if k in ("zone", "migratetype")}
    a = real.astype(text).groupby(keys, sort=False)[col].sum()
    b = sim.astype(text).groupby(keys, sort=False)[col].sum()
    order = list(dict.fromkeys(list(b.index) + list(a.index)))
    for k in order:
        yield k, int(a.get(k, 0)), int(b.get(k, 0))



def format_compare(df: pd.DataFrame, differences_only: bool = False) -> str:
    """The comparison as a text table, each distinct ``why`` printed once below it as a
    numbered note, and a one-line summary of the verdicts."""
    shown = df[df["verdict"] != "exact"] if differences_only else df
    notes: dict[str, int] = {}
    marks = []
    for why in shown["why"]:
        if why:
            notes.setdefault(why, len(notes) + 1)
            marks.append(f"[{notes[why]}]")
        else:
            marks.append("")
    table = shown.drop(columns="why").assign(note=marks)
    table["node"] = table["node"].map(lambda n: "" if n < 0 else str(n))
    with pd.option_context("display.width", 250, "display.max_rows", None):
        text = table.to_string(index=False) if len(table) else "(no rows)"
    counts = df["verdict"].value_counts()
    lines = [text, "", "  ".join(f"{v}: {int(counts.get(v, 0))}" for v in VERDICTS)]
    for why, k in notes.items():
        lines.append(textwrap.fill(why, width=100, initial_indent=f"[{k}] ", subsequent_indent="    "))
    return "\n".join(lines) + "\n"
