"""``pextlab report``: a one-page summary of a capture.

    pextlab report CAPTURE [--snapshot LABEL] [--html OUT.html] [--top N]

:func:`build_report` reads a capture (:func:`pextlab.read_capture`) and
summarises it in seven sections:

* **machine** -- kernel version, NUMA nodes, RAM, CPUs, command line, the
  kernel's page_ext line, memory block size;
* **zones** -- span, present, managed, free and watermarks per zone;
* **top owners** -- outstanding pages by stack top frame and by comm, with
  flat and cumulative shares (from the page_owner dump, when the capture has one);
* **pageblocks** -- pageblocks per zone and migratetype, mixed ones in brackets;
* **fragmentation** -- free pages, free pages in blocks of order >= 9, the
  unusable and extfrag indexes at order 9 per zone;
* **memory blocks** -- states, zones and nodes of /sys/devices/system/memory;
* **stacks** -- the biggest entries of page_owner_stacks/show_stacks.

Text mode gives aligned plain text; HTML mode a self-contained page with the
same tables and the :mod:`pextlab.plot` pictures embedded as base64 PNG (buddy
free lists, pageblocks, top owners, memory map).  A section whose files the
capture lacks says so and the rest still appears.
"""
from __future__ import annotations

import argparse
import base64
import html as _html
import io
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .analysis.owners import frame_function, top_owners
from .capture import Capture, read_capture
from .errors import PextlabError
from .kernel.vmstat import fragmentation_index, unusable_index
from .procfs.textio import read_text
from .plot import plot_buddyinfo, plot_memory_map, plot_pageblocks, plot_top_owners

__all__ = ["build_report", "main", "report_sections"]

PAGE = 4096
FRAG_ORDER = 9          # pageblock_order on x86_64: the order THP and compaction care about
_ZONE_ORDER = ("DMA", "DMA32", "Normal", "HighMem", "Movable", "Device")


@dataclass
class Section:
    """One part of the report: a title, lines of prose, tables, and pictures (HTML only)."""

    key: str
    title: str
    lines: list[str] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    plots: list[tuple[str, object]] = field(default_factory=list)   # (caption, draw(fig))
    footnotes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _mib(pages) -> str:
    return f"{pages * PAGE / (1 << 20):,.1f}"


def _size(nbytes: int) -> str:
    for unit, s in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= s:
            v = nbytes / s
            return f"{v:,.0f} {unit}" if v == int(v) else f"{v:,.1f} {unit}"
    return f"{nbytes} B"


def _pct(x) -> str:
    return f"{100 * x:5.1f}%"


def _try(fn, default=None):
    """``fn()``, or ``(default, message)`` style failure captured as a string."""
    try:
        return fn(), None
    except (PextlabError, OSError, ValueError, KeyError) as e:
        return default, str(e)


def _zone_key(node, zone):
    z = str(zone)
    return (int(node), _ZONE_ORDER.index(z) if z in _ZONE_ORDER else 99, z)


def _sorted_zones(df: pd.DataFrame) -> pd.DataFrame:
    keys = [_zone_key(n, z) for n, z in zip(df["node"], df["zone"])]
    return df.iloc[sorted(range(len(df)), key=lambda i: keys[i])].reset_index(drop=True)


def _short(s, width: int) -> str:
    s = "" if s is None or (isinstance(s, float) and np.isnan(s)) else str(s)
    return s if len(s) <= width else s[: width - 1] + "~"


def _runs(ids) -> str:
    """``[1, 2, 3, 5, 7, 8]`` -> ``"1-3,5,7-8"``."""
    ids = sorted(int(i) for i in ids)
    out, start, prev = [], None, None
    for i in ids + [None]:
        if start is not None and (i is None or i != prev + 1):
            out.append(str(start) if start == prev else f"{start}-{prev}")
            start = None
        if i is not None and start is None:
            start = i
        prev = i
    return _short(",".join(out), 60)


def _manifest_note(cap, name: str) -> str | None:
    """The skip note ``pextlab capture`` left for ``name`` in MANIFEST.tsv, if any."""
    p = cap.folder / "MANIFEST.tsv"
    if not p.is_file():
        return None
    try:
        man = pd.read_csv(p, sep="\t", keep_default_na=False, dtype=str)
    except (OSError, ValueError, pd.errors.ParserError):
        return None
    if "note" not in man.columns or "name" not in man.columns:
        return None
    want = f"{name}.{cap.snapshot}" if cap.snapshot else name
    rows = man[(man["name"] == want) | (man["name"] == name)]
    notes = [n for n in rows["note"] if n]
    return notes[-1] if notes else None


# --------------------------------------------------------------------------------------------
# sections
# --------------------------------------------------------------------------------------------
def _machine(cap) -> Section:
    s = Section("machine", "Machine")
    facts: list[tuple[str, str]] = []
    facts.append(("capture", f"{cap.folder}" + (f" (snapshot {cap.snapshot})" if cap.snapshot else "")))
    dmesg, _ = _try(lambda: cap.dmesg)
    info, _ = _try(lambda: cap.dmesg_info)
    if dmesg:
        m = re.search(r"Linux version (\S+)", dmesg)
        if m:
            facts.append(("kernel", m.group(1)))
    layout, err = _try(lambda: cap.layout)
    if layout is not None:
        facts.append(("NUMA nodes", f"{len(layout.nodes)} ({', '.join(map(str, layout.nodes))})"))
        per_node = {n: sum(r.nr_pages for r in layout.node_ranges(n)) for n in layout.nodes}
        ram = sum(per_node.values())
        detail = "" if len(per_node) == 1 else "; " + ", ".join(
            f"node {n}: {_size(p * PAGE)}" for n, p in per_node.items())
        facts.append(("RAM (iomem)", f"{_size(ram * PAGE)} = {ram:,} pages in "
                                     f"{len(layout.ram)} ranges{detail}"))
    else:
        facts.append(("layout", f"unavailable: {err}"))
    mi, _ = _try(cap.df_meminfo)
    if mi is not None and len(mi):
        d = dict(zip(mi["field"].astype(str), mi["value"]))
        if "MemTotal" in d:
            facts.append(("MemTotal", f"{_size(int(d['MemTotal']) * 1024)}, MemFree "
                                      f"{_size(int(d.get('MemFree', 0)) * 1024)}"))
    model = None
    p = cap.path("cpuinfo_summary", required=False)
    if p is not None:
        lines = read_text(p).splitlines()
        model = lines[1].split(":", 1)[-1].strip() if len(lines) > 1 else None
    facts.append(("CPUs", f"{cap.nr_cpus}" + (f" x {model}" if model else "")))
    cmd, err = _try(lambda: cap.cmdline)
    facts.append(("cmdline", cmd if cmd is not None else f"unavailable: {err}"))
    if info is not None:
        if info.page_ext_bytes is not None:
            pe = f"allocated {info.page_ext_bytes:,} bytes of page_ext ({_size(info.page_ext_bytes)})"
        elif info.page_owner_disabled:
            pe = "page_owner is disabled (no page_ext allocated)"
        else:
            pe = "no page_ext line in dmesg"
        facts.append(("page_ext", pe))
        if info.early_allocated:
            facts.append(("early allocated", ", ".join(
                f"node {n} {z} {v:,}" for (n, z), v in sorted(info.early_allocated.items()))
                + " pages (page_owner)"))
    else:
        facts.append(("page_ext", "no dmesg in this capture"))
    mb, _ = _try(cap.df_memory_blocks)
    bs = (mb.attrs.get("block_size_bytes") if mb is not None else None) or \
        (info.memory_block_size if info is not None else None)
    if bs:
        facts.append(("memory block", _size(int(bs))))
    width = max(len(k) for k, _ in facts)
    s.lines = [f"{k:<{width}}  {v}" for k, v in facts]
    return s


def _zones(cap) -> Section:
    s = Section("zones", "Zones (pages)")
    z, err = _try(cap.df_zones)
    if z is None:
        s.lines.append(f"zoneinfo unavailable: {err}")
        return s
    z = _sorted_zones(z[(z["spanned"] > 0) | (z["present"] > 0)])
    t = pd.DataFrame({
        "node": z["node"], "zone": z["zone"].astype(str),
        "pfns": [f"{a:#x}-{b:#x}" for a, b in zip(z["start_pfn"], z["end_pfn"])],
        "present": z["present"], "managed": z["managed"], "free": z["free"],
        "free_MiB": [_mib(v) for v in z["free"]],
        "min": z["min"], "low": z["low"], "high": z["high"], "cma": z["cma"],
    })
    s.tables.append(("", t))
    tot_m, tot_f = int(z["managed"].sum()), int(z["free"].sum())
    s.lines.append(f"managed {tot_m:,} pages ({_mib(tot_m)} MiB), free {tot_f:,} "
                   f"({_pct(tot_f / tot_m).strip() if tot_m else 'n/a'})")
    return s


def _owners(cap, top: int) -> tuple[Section, pd.DataFrame | None]:
    s = Section("owners", "Top owners of allocated pages (page_owner)")
    if not cap.has("page_owner"):
        why = _manifest_note(cap, "page_owner")
        info, _ = _try(lambda: cap.dmesg_info)
        if info is not None and info.page_owner_disabled:
            why = "the kernel says 'page_owner is disabled' (boot with page_owner=on)"
        s.lines.append("no page_owner dump in this capture" + (f": {why}" if why else ""))
        return s, None
    po, err = _try(cap.df_page_owner)
    if po is None:
        s.lines.append(f"page_owner dump unreadable: {err}")
        return s, None
    total = int(po["nr_pages"].sum())
    s.lines.append(f"{len(po):,} allocated blocks, {total:,} pages ({_mib(total)} MiB)")
    for by, label in (("top_frame", "by stack top frame"), ("comm", "by comm")):
        t = top_owners(po, by=by, n=top)
        out = pd.DataFrame({
            by: [_short(v, 48) for v in t[by].astype(object)],
            "blocks": t["count"], "pages": t["pages"], "MiB": [_mib(v) for v in t["pages"]],
            "share": [_pct(v) for v in t["share"]], "cum": [_pct(v) for v in t["cum_share"]],
        })
        s.tables.append((label, out))
    tf = top_owners(po, by="top_frame", n=top)
    cm = top_owners(po, by="comm", n=top)
    if len(tf) and len(cm):
        s.plots.append(("top owners", lambda fig, a=tf, b=cm: _plot_owners(fig, a, b)))
    return s, po


def _pageblocks(cap) -> Section:
    s = Section("pageblocks", "Pageblocks per zone and migratetype (mixed in brackets)")
    pb, err = _try(cap.df_pageblocks)
    if pb is None:
        s.lines.append(f"pagetypeinfo unavailable: {err}")
        return s
    pb = pb.assign(zone=pb["zone"].astype(str), migratetype=pb["migratetype"].astype(str))
    types = [t for t in dict.fromkeys(pb["migratetype"]) if pb.loc[pb["migratetype"] == t, "nr_blocks"].sum() > 0]
    known = bool((pb["nr_mixed"] >= 0).any())
    rows = []
    for (node, zone), g in pb.groupby(["node", "zone"], sort=False):
        row = {"node": int(node), "zone": zone}
        for t in types:
            r = g[g["migratetype"] == t]
            nb = int(r["nr_blocks"].sum())
            nm = int(r["nr_mixed"].sum()) if known and (r["nr_mixed"] >= 0).all() else -1
            row[t] = f"{nb} ({nm})" if nm > 0 else str(nb)
        row["total"] = int(g["nr_blocks"].sum())
        row["mixed"] = int(g.loc[g["nr_mixed"] >= 0, "nr_mixed"].sum()) if known else "n/a"
        rows.append(row)
    t = pd.DataFrame(rows)
    if len(t):
        t = _sorted_zones(t)
    s.tables.append(("", t))
    total = int(pb["nr_blocks"].sum())
    if known:
        mixed = pb[pb["nr_mixed"] > 0]
        parts = [f"{z} {mt} {int(n)}" for z, mt, n in zip(mixed["zone"], mixed["migratetype"], mixed["nr_mixed"])]
        n_mixed = int(pb.loc[pb["nr_mixed"] > 0, "nr_mixed"].sum())
        s.lines.append(f"Mixed pageblocks: {n_mixed} of {total}" + (f" ({', '.join(parts)})" if parts else ""))
    else:
        s.lines.append(f"Mixed pageblocks: not printed by this kernel (pagetypeinfo shows them "
                       f"only with page_owner on); {total} pageblocks")
    if len(pb):
        s.plots.append(("pageblocks per migratetype",
                        lambda fig, df=pb: plot_pageblocks(df, ax=fig.add_subplot())))
    return s


def _fragmentation(cap) -> Section:
    s = Section("fragmentation", f"Fragmentation per zone (order {FRAG_ORDER})")
    bi, err = _try(cap.df_buddyinfo)
    if bi is None:
        s.lines.append(f"buddyinfo unavailable: {err}")
        return s
    ef, _ = _try(cap.df_extfrag)
    rows = []
    computed = False
    for (node, zone), g in bi.groupby(["node", "zone"], sort=False, observed=True):
        g = g.sort_values("order")
        nr = g["nr_free"].to_numpy()
        orders = g["order"].to_numpy().astype(int)
        pages = nr * (1 << orders)
        free = int(pages.sum())
        big = int(pages[orders >= FRAG_ORDER].sum())
        nonzero = orders[nr > 0]
        row = {"node": int(node), "zone": str(zone), "free pages": free,
               f"free in order>={FRAG_ORDER}": big,
               "share": _pct(big / free) if free else "    -",
               "largest order": int(nonzero.max()) if len(nonzero) else -1}
        e = None
        if ef is not None and len(ef):
            e = ef[(ef["node"] == node) & (ef["zone"].astype(str) == str(zone)) & (ef["order"] == FRAG_ORDER)]
        if e is not None and len(e):
            row["unusable"] = f"{float(e['unusable_index'].iloc[0]):.3f}"
            row["extfrag"] = f"{float(e['extfrag_index'].iloc[0]):.3f}"
        else:
            dense = np.zeros(max(orders.max() + 1, FRAG_ORDER + 1), dtype=np.int64)
            dense[orders] = nr
            row["unusable"] = f"{unusable_index(dense, FRAG_ORDER) / 1000:.3f}*"
            row["extfrag"] = f"{fragmentation_index(dense, FRAG_ORDER) / 1000:.3f}*"
            computed = True
        rows.append(row)
    t = _sorted_zones(pd.DataFrame(rows)) if rows else pd.DataFrame()
    s.tables.append(("", t))
    if computed:
        s.footnotes.append("* computed from buddyinfo (the capture has no debugfs extfrag files)")
    if len(bi):
        s.plots.append(("buddy free lists per order",
                        lambda fig, df=bi: plot_buddyinfo(df, ax=fig.add_subplot())))
    return s


def _memory_blocks(cap) -> Section:
    s = Section("memory_blocks", "Memory blocks (/sys/devices/system/memory)")
    mb, err = _try(cap.df_memory_blocks)
    if mb is None or len(mb) == 0:
        s.lines.append("no memory_blocks file in this capture" if err is None else f"unavailable: {err}")
        return s
    bs = mb.attrs.get("block_size_bytes")
    states = mb["state"].astype(str).value_counts()
    s.lines.append(f"{len(mb)} blocks" + (f" of {_size(int(bs))}" if bs else "")
                   + ": " + ", ".join(f"{k} {v}" for k, v in states.items())
                   + (f"; auto_online_blocks {mb.attrs['auto_online_blocks']}"
                      if mb.attrs.get("auto_online_blocks") else ""))
    g = (mb.assign(state=mb["state"].astype(str), valid_zones=mb["valid_zones"].astype(str))
         .groupby(["node", "state", "valid_zones"], sort=False)
         .agg(blocks=("block", "size"), ids=("block", list))
         .reset_index())
    g["which"] = ["memory" + _runs(ids) for ids in g["ids"]]
    s.tables.append(("", g[["node", "state", "valid_zones", "blocks", "which"]]))
    s.footnotes.append("valid_zones 'none': the block spans zones or contains holes")
    return s


def _stacks(cap, top: int, po: pd.DataFrame | None) -> Section:
    s = Section("stacks", "page_owner_stacks/show_stacks: biggest stacks")
    if not cap.has("page_owner_stacks_show_stacks"):
        why = _manifest_note(cap, "page_owner_stacks_show_stacks")
        s.lines.append("no show_stacks file in this capture" + (f": {why}" if why else ""))
        return s
    st, err = _try(cap.df_stacks)
    if st is None:
        s.lines.append(f"show_stacks unreadable: {err}")
        return s
    st = st.sort_values("nr_base_pages", ascending=False, kind="stable")
    total = int(st["nr_base_pages"].sum())
    s.lines.append(f"{len(st):,} stacks, {total:,} base pages outstanding")
    head = st.head(top)
    callers = []
    for stack, tfn in zip(head["stack"].astype(object), head["top_frame"].astype(object)):
        fns = [frame_function(f) for f in str(stack).split("\n") if f.strip()]
        i = fns.index(tfn) if tfn in fns else 0
        callers.append(_short(" < ".join(fns[i + 1:i + 4]), 60))
    t = pd.DataFrame({"pages": head["nr_base_pages"].to_numpy(),
                      "share": [_pct(v / total) if total else "-" for v in head["nr_base_pages"]],
                      "depth": head["depth"].to_numpy(),
                      "top_frame": [_short(v, 40) for v in head["top_frame"].astype(object)],
                      "called from": callers})
    s.tables.append(("", t))
    return s


def report_sections(capture, top: int = 10) -> list[Section]:
    """The report's sections (titles, prose lines, tables, plot callbacks), in order."""
    cap = capture
    owners, po = _owners(cap, top)
    return [_machine(cap), _zones(cap), owners, _pageblocks(cap), _fragmentation(cap),
            _memory_blocks(cap), _stacks(cap, top, po)]


# --------------------------------------------------------------------------------------------
# pictures (HTML)
# --------------------------------------------------------------------------------------------
def _plot_owners(fig, by_frame: pd.DataFrame, by_comm: pd.DataFrame):
    fig.subplots_adjust(wspace=0.6)
    plot_top_owners(by_frame, "top_frame", ax=fig.add_subplot(1, 2, 1), color="#4c72b0")
    plot_top_owners(by_comm, "comm", ax=fig.add_subplot(1, 2, 2), color="#dd8452")


def _memory_map(cap):
    """``(draw, None)``: the memory map's drawing callback, or ``(None, why)`` when it
    cannot be drawn (zoneinfo and iomem are needed; memory blocks are drawn when the
    capture has them)."""
    zones, err = _try(cap.df_zones)
    if zones is None:
        return None, f"zoneinfo unavailable: {err}"
    if not (zones["spanned"] > 0).any():
        return None, "no zone in zoneinfo spans any page"
    layout, err = _try(lambda: cap.layout)
    if layout is None:
        return None, f"the physical layout is unavailable: {err}"
    ram = pd.DataFrame([{"nid": r.nid, "start_pfn": r.start_pfn, "end_pfn": r.end_pfn}
                        for r in layout.ram], columns=["nid", "start_pfn", "end_pfn"])
    mb, _ = _try(cap.df_memory_blocks)
    mb = mb if mb is not None and len(mb) else None
    return (lambda fig: plot_memory_map(zones, memory_blocks=mb, ram=ram, ax=fig.add_subplot()),
            None)


def _png(draw, figsize=(9, 3.6)) -> str:
    fig = Figure(figsize=figsize, dpi=90)
    draw(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


# --------------------------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------------------------
def _render_text(cap, sections: list[Section]) -> str:
    out = [f"pextlab report: {cap.folder.name}" + (f" [{cap.snapshot}]" if cap.snapshot else ""), ""]
    for s in sections:
        out.append(f"== {s.title} ==")
        out.extend(s.lines)
        for label, t in s.tables:
            if label:
                out.append(f"-- {label}")
            if t is None or t.empty:
                out.append("(none)")
            else:
                out.append(t.to_string(index=False))
        out.extend(s.footnotes)
        out.append("")
    return "\n".join(out).rstrip() + "\n"


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1100px;color:#222}
h1{font-size:1.4em} h2{font-size:1.1em;border-bottom:1px solid #ccc;margin-top:1.4em}
table{border-collapse:collapse;font-size:0.85em;margin:0.4em 0}
td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:right}
td:first-child,th:first-child{text-align:left}
pre{background:#f6f6f6;padding:0.5em;font-size:0.85em;white-space:pre-wrap}
figure{margin:0.6em 0} figcaption{font-size:0.8em;color:#555}
.note{color:#8a4b00}
"""


def _render_html(cap, sections: list[Section]) -> str:
    e = _html.escape
    title = f"pextlab report: {cap.folder.name}" + (f" [{cap.snapshot}]" if cap.snapshot else "")
    out = ["<!DOCTYPE html>", "<html lang=\"en\">", "<head>", "<meta charset=\"utf-8\">",
           f"<title>{e(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
           f"<h1>{e(title)}</h1>"]
    plots: list[tuple[str, object]] = []
    for s in sections:
        out.append(f"<h2 id=\"{e(s.key)}\">{e(s.title)}</h2>")
        if s.lines:
            out.append("<pre>" + e("\n".join(s.lines)) + "</pre>")
        for label, t in s.tables:
            if label:
                out.append(f"<h3>{e(label)}</h3>")
            if t is not None and not t.empty:
                out.append(t.to_html(index=False, border=0, escape=True))
        for note in s.footnotes:
            out.append(f"<p class=\"note\">{e(note)}</p>")
        for caption, draw in s.plots:
            plots.append((caption, draw))
            out.append(_figure(caption, draw, (9, 3.8 if s.key != "owners" else 4.2)))
    out.append("<h2 id=\"memory_map\">Memory map</h2>")
    draw, why = _memory_map(cap)
    if draw is None:
        out.append(f"<p class=\"note\">physical memory map: not drawn ({e(why)})</p>")
    else:
        out.append(_figure("physical memory map", draw, (10, 2.6)))
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def _figure(caption: str, draw, figsize) -> str:
    e = _html.escape
    try:
        data = _png(draw, figsize)
    except (KeyError, ValueError) as exc:
        # what a plot raises for a frame it cannot draw (a column missing, nothing to draw):
        # say so and keep the rest of the report
        return f"<p class=\"note\">{e(caption)}: not drawn ({e(str(exc))})</p>"
    return (f"<figure><img alt=\"{e(caption)}\" src=\"data:image/png;base64,{data}\">"
            f"<figcaption>{e(caption)}</figcaption></figure>")


def build_report(capture, html: bool = False, top: int = 10, snapshot: str | None = None) -> str:
    """A one-page summary of a capture, as plain text or a self-contained HTML page.

    Parameters
    ----------
    capture : Capture or path
        A :class:`pextlab.Capture`, or a folder / ``.tar.gz`` for :func:`pextlab.read_capture`.
    html : bool
        HTML with embedded PNG pictures instead of plain text.
    top : int
        Rows in the top-owner and stack tables.
    snapshot : str, optional
        Snapshot label, when ``capture`` is a path.

    Raises
    ------
    PextlabError
        When the capture does not exist.
    """
    cap = capture if isinstance(capture, Capture) else read_capture(capture, snapshot=snapshot)
    if top < 1:
        raise ValueError("top must be at least 1")
    sections = report_sections(cap, top=top)
    return _render_html(cap, sections) if html else _render_text(cap, sections)


def main(argv=None) -> int:
    """``pextlab report CAPTURE [--snapshot L] [--html OUT.html] [--top N]``."""
    ap = argparse.ArgumentParser(prog="pextlab report",
                                 description="One-page summary of a capture folder (or .tar.gz).")
    ap.add_argument("capture", help="capture folder or .tar.gz")
    ap.add_argument("--snapshot", metavar="LABEL", help="read LABEL files (e.g. after_compact)")
    ap.add_argument("--html", metavar="OUT.html", help="write a self-contained HTML page here")
    ap.add_argument("--top", type=int, default=10, metavar="N", help="rows in top tables (default 10)")
    try:
        a = ap.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    try:
        text = build_report(a.capture, html=bool(a.html), top=a.top, snapshot=a.snapshot)
    except (PextlabError, ValueError) as e:
        print(f"pextlab report: {e}", file=sys.stderr)
        return 2
    if a.html:
        try:
            Path(a.html).write_text(text, encoding="utf-8")
        except OSError as e:
            print(f"pextlab report: cannot write {a.html}: {e.strerror or e}", file=sys.stderr)
            return 2
        print(f"pextlab report: wrote {a.html}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
