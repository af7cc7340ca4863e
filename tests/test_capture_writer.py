"""Machine.write_capture: a simulated machine as a capture folder that read_capture and
the kernel's page_owner_sort read back, byte for byte the same for the same history."""
from __future__ import annotations

import gzip
import hashlib

import pandas as pd
import pytest

import pextlab
from pextlab import workloads as W
from pextlab.analysis.sort_cli import main as sort_main
from pextlab.capture_writer import alias_snapshot, iomem_text, read_manifest
from pextlab.errors import PextlabError


def _machine(**kw):
    kw.setdefault("cmdline", "page_owner=on")
    m = pextlab.boot(seed=3, **kw)
    m.run(W.mix(W.anon("postgres", rate=800, lifetime="1s"),
                W.leak("collectd", pages=800, fraction=0.2, over="4s", kind="kmalloc_large",
                       order=2)), duration="4s")
    return m


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


FRAMES = ("df_zones", "df_buddyinfo", "df_pagetypeinfo", "df_pageblocks", "df_meminfo",
          "df_vmstat", "df_memory_blocks", "df_extfrag")


@pytest.mark.parametrize("kw", [dict(mem="1G", nodes=2), dict(mem="512M", profile="v3.19")],
                         ids=["numa2", "v3.19"])
def test_read_capture_reads_what_write_capture_writes(tmp_path, kw):
    m = _machine(**kw)
    recs = m.write_capture(tmp_path, label="t4s")
    cap = pextlab.read_capture(tmp_path, snapshot="t4s")
    assert cap.layout.ram == m.layout.ram and cap.layout.kernel_image == m.layout.kernel_image
    assert cap.layout.nodes == m.layout.nodes
    assert cap.cmdline == m.cmdline
    for f in FRAMES:
        pd.testing.assert_frame_equal(getattr(cap, f)(), getattr(m, f)(), check_categorical=False,
                                      obj=f)
    a, b = cap.df_page_owner(), m.df_page_owner()
    assert a["pfn"].tolist() == b["pfn"].tolist()
    # v3.19 prints each frame as " [<address>] symbol+off/size"
    strip = a["stack"].astype(str).str.replace(r"\[<[0-9a-f]+>\] ", "", regex=True)
    assert strip.tolist() == b["stack"].astype(str).tolist()
    assert a["top_frame"].astype(str).tolist() == b["top_frame"].astype(str).tolist()
    if m.profile.name == "v6.12":
        assert a["comm"].astype(str).tolist() == b["comm"].astype(str).tolist()
        assert a["ts_ns"].tolist() == b["ts_ns"].tolist()
        assert a["node"].tolist() == b["node"].tolist()
        assert cap.df_stacks()["nr_base_pages"].sum() == m.df_stacks()["nr_base_pages"].sum()
    else:
        # v3.19 prints no pid, comm or timestamp, and no page_owner_stacks
        assert a["comm"].isna().all() and (a["ts_ns"] == -1).all()
        assert next(r for r in recs if r["name"].startswith("page_owner_stacks"))["status"] == "skipped"
    # every written file is in the manifest with its uncompressed size and the clock
    rows = read_manifest(tmp_path)
    for r in rows:
        if r["status"] == "ok":
            data = (tmp_path / r["file"]).read_bytes()
            if r["file"].endswith(".gz"):
                data = gzip.decompress(data)
            assert int(r["bytes"]) == len(data), r
            assert float(r["uptime_s"]) == pytest.approx(m.mm.clock_ns / 1e9, abs=0.01)


def test_page_owner_sort_reads_the_dump(tmp_path, capsys):
    m = _machine(mem="512M")
    m.write_capture(tmp_path)
    out = tmp_path / "sorted.txt"
    assert sort_main(["--cull=stacktrace", str(tmp_path / "page_owner.txt.gz"), str(out)]) == 0
    text = out.read_text()
    # one culled entry per distinct stack, counted in blocks: the leaker's order-2 blocks
    n = int((m.df_page_owner()["top_frame"].astype(str) == "___kmalloc_large_node").sum())
    assert f"{n} times, {4 * n} pages" in text


def test_same_history_same_bytes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    _machine(mem="512M").write_capture(a, "t4s")
    _machine(mem="512M").write_capture(b, "t4s")
    assert _digests(a) == _digests(b)
    # gzip header: no name, mtime 0
    raw = (a / "page_owner.t4s.txt.gz").read_bytes()
    assert raw[3] == 0 and raw[4:8] == b"\0\0\0\0"


def test_labels_accumulate_and_alias(tmp_path):
    m = _machine(mem="512M")
    m.write_capture(tmp_path, "t4s")
    m.run(W.anon("late", rate=100, lifetime=None), duration="1s")
    m.write_capture(tmp_path, "t5s")
    alias_snapshot(tmp_path, "t5s")
    names = [r["name"] for r in read_manifest(tmp_path)]
    assert "page_owner.t4s" in names and "page_owner.t5s" in names and "page_owner" in names
    latest = pextlab.read_capture(tmp_path).df_page_owner()
    assert "late" in set(latest["comm"].astype(str))
    assert "late" not in set(pextlab.read_capture(tmp_path, snapshot="t4s").df_page_owner()["comm"].astype(str))
    with pytest.raises(PextlabError, match="no snapshot 'nope'"):
        alias_snapshot(tmp_path, "nope")


def test_bad_label_and_page_owner_off(tmp_path):
    m = pextlab.boot(mem="512M")
    with pytest.raises(PextlabError, match="label"):
        m.write_capture(tmp_path, "../x")
    recs = m.write_capture(tmp_path)
    po = next(r for r in recs if r["name"] == "page_owner")
    assert po["status"] == "skipped" and "page_owner=on" in po["note"]
    assert pextlab.read_capture(tmp_path).df_page_owner().empty


def test_iomem_kernel_image_follows_the_layout():
    # a machine booted from the b-1G capture keeps that capture's kernel image
    cap = pextlab.read_capture("data/real-kernel/b-1G")
    text = iomem_text(cap.layout)
    k0, k1 = cap.layout.kernel_image
    assert f"{k0 << 12:08x}-" in text and f"-{(k1 << 12) - 1:08x} : Kernel bss" in text
