"""pextlab report: one-page summaries of the real captures."""
from __future__ import annotations

import base64
import re
import tarfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

import pextlab
from pextlab import report
from pextlab.report import build_report, main

REAL = Path(__file__).resolve().parents[1] / "data" / "real-kernel"


def _section(text: str, title_start: str) -> str:
    """The body of the ``== title ==`` section of a text report."""
    m = re.search(rf"^== {re.escape(title_start)}[^\n]*==\n(.*?)(?=^== |\Z)", text, re.M | re.S)
    assert m, f"no section {title_start!r}"
    return m.group(1)


@pytest.fixture(scope="module")
def b1g_text():
    return build_report(pextlab.read_capture(REAL / "b-1G"))


def test_b1g_machine(b1g_text):
    m = _section(b1g_text, "Machine")
    assert re.search(r"^kernel +6\.12\.117$", m, re.M)
    assert re.search(r"^NUMA nodes +1 \(0\)$", m, re.M)
    assert "262,014 pages in 2 ranges" in m          # System RAM in b-1G's iomem
    assert "page_owner=on leaky=1" in m
    assert "allocated 18,874,368 bytes of page_ext" in m
    assert "node 0 DMA32 4,938 pages" in m            # early allocated, README
    assert re.search(r"^memory block +128 MiB$", m, re.M)


def test_b1g_zones(b1g_text):
    z = _section(b1g_text, "Zones")
    rows = {line.split()[1]: line.split() for line in z.splitlines()[1:] if line.split()[:1] == ["0"]}
    assert set(rows) == {"DMA", "DMA32"}                # empty Normal/Movable/Device left out
    zones = pextlab.read_capture(REAL / "b-1G").df_zones().set_index("zone")
    header = next(line for line in z.splitlines() if line.split()[:2] == ["node", "zone"]).split()
    for zone, cells in rows.items():
        for col in ("present", "managed", "free", "min", "low", "high"):
            assert int(cells[header.index(col)]) == zones.loc[zone, col], (zone, col)


def test_b1g_top_owners_find_the_leak(b1g_text):
    o = _section(b1g_text, "Top owners")
    by_comm = o.split("-- by comm")[1]
    first = by_comm.strip().splitlines()[1].split()
    # leaky holds 20,000 faulted + 5,000 populated pages (README), plus its page tables etc.
    assert first[0] == "leaky" and 25_000 <= int(first[2]) < 25_200
    by_frame = o.split("-- by stack top frame")[1].split("-- by comm")[0]
    assert by_frame.strip().splitlines()[1].split()[0] == "__handle_mm_fault"
    # cumulative share column ends near 100% and is increasing
    cums = [float(line.split()[-1].rstrip("%")) for line in by_comm.strip().splitlines()[1:] if "%" in line]
    assert cums == sorted(cums) and cums[-1] > 99
    assert "31,714 allocated blocks" in o


def test_b1g_pageblocks_fragmentation_blocks_stacks(b1g_text):
    pb = _section(b1g_text, "Pageblocks")
    assert "Mixed pageblocks: 1 of 512 (DMA32 Reclaimable 1)" in pb
    assert re.search(r"DMA32 +27 +475 +2 \(1\) +504 +1", pb)
    fr = _section(b1g_text, "Fragmentation")
    assert re.search(r"DMA +3840 +3584 +93\.3% +10 +0\.066 +-1\.000", fr)
    assert re.search(r"DMA32 +213978 +210944 +98\.6% +10 +0\.019 +-1\.000", fr)
    assert "computed from buddyinfo" not in fr
    mb = _section(b1g_text, "Memory blocks")
    assert "8 blocks of 128 MiB: online 8" in mb
    assert re.search(r"online +DMA32 +7 +memory1-7", mb)
    st = _section(b1g_text, "page_owner_stacks")
    top = st.strip().splitlines()[2].split()
    assert top[:4] == ["20087", "74.3%", "8", "__handle_mm_fault"]
    assert "exc_page_fault" in st.strip().splitlines()[2]
    assert "245 stacks" in st


def test_noowner_capture_says_so(tmp_path):
    text = build_report(REAL / "e-1G-noowner", top=3)
    o = _section(text, "Top owners")
    assert "no page_owner dump in this capture" in o and "page_owner is disabled" in o
    assert "page_owner is disabled" in _section(text, "Machine")
    pb = _section(text, "Pageblocks")
    assert "Mixed pageblocks: not printed" in pb and "n/a" in pb
    assert "no show_stacks file" in _section(text, "page_owner_stacks")
    assert re.search(r"DMA32 +\d+ +\d+", _section(text, "Fragmentation"))


def test_snapshot_and_numa(tmp_path):
    after = build_report(REAL / "b-1G", snapshot="after_compact")
    assert after.splitlines()[0] == "pextlab report: b-1G [after_compact]"
    assert after != build_report(REAL / "b-1G")
    numa = build_report(REAL / "f-numa2")
    m = _section(numa, "Machine")
    assert "NUMA nodes       2 (0, 1)" in m or re.search(r"NUMA nodes +2 \(0, 1\)", m)
    mb = _section(numa, "Memory blocks")
    assert re.search(r"^ +1 +online +DMA32 +8 +memory8-15$", mb, re.M)


def test_hotplug_offline_blocks():
    mb = _section(build_report(REAL / "i-hotplug"), "Memory blocks")
    assert re.search(r"offline +Normal Movable +3 +memory33-35", mb)
    assert "12 blocks of 128 MiB: online 8, offline 4" in mb
    assert re.search(r"offline +DMA32 Movable +1 +memory4$", mb, re.M)
    assert re.search(r"online +DMA32 +6 +memory1-3,5-7$", mb, re.M)   # memory4 was offlined


def test_missing_extfrag_is_computed(tmp_path):
    """Without debugfs files the indexes are computed from buddyinfo, and marked so."""
    src = REAL / "b-1G"
    for name in ("iomem", "zoneinfo", "buddyinfo", "pagetypeinfo", "dmesg", "cmdline"):
        (tmp_path / f"{name}.txt").write_text((src / f"{name}.txt").read_text())
    fr = _section(build_report(tmp_path), "Fragmentation")
    # DMA's free lists did not change between the two files: the kernel printed 0.066 too
    assert re.search(r"DMA +3840 .* 0\.066\* +-1\.000\*", fr)
    # DMA32: (213978 - 210944) * 1000 // 213978 = 14 thousandths (unusable_index.txt was
    # taken 60 ms after buddyinfo.txt and says 0.019)
    assert re.search(r"DMA32 +213978 .* 0\.014\* +-1\.000\*", fr)
    assert "computed from buddyinfo" in fr
    text = build_report(tmp_path)
    assert "no memory_blocks file" in _section(text, "Memory blocks")
    assert "no page_owner dump" in _section(text, "Top owners")


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.imgs, self.tables, self.errors = [], [], 0, []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.imgs.append(dict(attrs))
        elif tag not in ("meta", "br"):
            self.stack.append(tag)
        if tag == "table":
            self.tables += 1

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def _check_html(text: str) -> _Tags:
    assert text.startswith("<!DOCTYPE html>")
    p = _Tags()
    p.feed(text)
    assert not p.errors, p.errors[:5]
    assert p.stack == [], p.stack
    for img in p.imgs:
        src = img["src"]
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in text and "https://" not in text   # self-contained
    return p


def test_html_b1g(tmp_path):
    out = tmp_path / "r.html"
    assert main([str(REAL / "b-1G"), "--html", str(out), "--top", "5"]) == 0
    text = out.read_text()
    p = _check_html(text)
    alts = [i["alt"] for i in p.imgs]
    assert {"top owners", "pageblocks per migratetype", "buddy free lists per order"} <= set(alts)
    assert p.tables >= 6
    assert "<td>leaky</td>" in text
    assert "Mixed pageblocks: 1 of 512" in text


def test_html_pictures_are_the_plot_functions(monkeypatch):
    """Each picture is drawn by the pextlab.plot function of its frame, from the capture's
    frame, on the report's Axes."""
    calls = []
    for name in ("plot_buddyinfo", "plot_pageblocks", "plot_top_owners", "plot_memory_map"):
        real = getattr(report, name)
        monkeypatch.setattr(report, name, lambda df, *a, _f=real, _n=name, **k:
                            calls.append((_n, df)) or _f(df, *a, **k))
    cap = pextlab.read_capture(REAL / "b-1G")
    p = _check_html(build_report(cap, html=True, top=4))
    assert [i["alt"] for i in p.imgs] == ["top owners", "pageblocks per migratetype",
                                          "buddy free lists per order", "physical memory map"]
    got = dict(calls)
    assert [n for n, _ in calls].count("plot_top_owners") == 2       # by top frame, by comm
    assert got["plot_buddyinfo"].equals(cap.df_buddyinfo())
    assert got["plot_memory_map"].equals(cap.df_zones())


def test_html_says_what_it_cannot_draw(tmp_path):
    src = REAL / "e-1G-noowner"
    for name in ("buddyinfo", "pagetypeinfo", "dmesg", "cmdline"):   # no zoneinfo, no iomem
        (tmp_path / f"{name}.txt").write_text((src / f"{name}.txt").read_text())
    text = build_report(tmp_path, html=True)
    p = _check_html(text)
    alts = [i["alt"] for i in p.imgs]
    assert alts == ["pageblocks per migratetype", "buddy free lists per order"]
    assert "physical memory map: not drawn (zoneinfo unavailable" in text
    assert "no page_owner dump in this capture" in text
    (tmp_path / "zoneinfo.txt").write_text((src / "zoneinfo.txt").read_text())
    text = build_report(tmp_path, html=True)
    assert "physical memory map: not drawn (the physical layout is unavailable" in text


def test_tarball_capture(tmp_path):
    tgz = tmp_path / "e.tar.gz"
    with tarfile.open(tgz, "w:gz") as tf:
        tf.add(REAL / "e-1G-noowner", arcname="e-1G-noowner")
    assert "page_owner is disabled" in build_report(tgz)


def test_bad_path(tmp_path, capsys):
    rc = main([str(tmp_path / "nope")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "pextlab report:" in err and "does not exist" in err and "Traceback" not in err
    empty = tmp_path / "empty"
    empty.mkdir()
    text = build_report(empty)     # an empty folder: every section says what is missing
    assert "zoneinfo unavailable" in text and "buddyinfo unavailable" in text
    assert main([str(REAL / "b-1G"), "--top", "0"]) == 2
    assert main([str(REAL / "b-1G"), "--html", str(tmp_path / "no" / "dir" / "r.html")]) == 2


def test_text_cli(capsys):
    assert main([str(REAL / "b-1G"), "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("pextlab report: b-1G\n")
    assert len(_section(out, "Top owners").split("-- by comm")[1].strip().splitlines()) == 1 + 3
