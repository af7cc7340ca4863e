"""pextlab capture: collect a machine's files into a capture folder.

A fake machine tree (proc/, sys/, dev/kmsg) is rebuilt from a real capture in
data/real-kernel; collecting from it must give back a folder whose frames equal
the source capture's.
"""
from __future__ import annotations

import errno
import io
import gzip
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pandas.testing as pdt
import pytest

import pextlab
from pextlab.capture_tool import ESSENTIALS, collect, kmsg_to_dmesg, main
from pextlab.procfs.textio import read_text

REAL = Path(__file__).resolve().parents[1] / "data" / "real-kernel"
PROC_FILES = ("cmdline", "iomem", "meminfo", "buddyinfo", "pagetypeinfo", "zoneinfo", "vmstat")
FRAMES = ("df_zones", "df_buddyinfo", "df_pagetypeinfo", "df_pageblocks", "df_extfrag",
          "df_memory_blocks", "df_meminfo", "df_vmstat", "df_page_owner", "df_stacks")


def _dmesg_to_kmsg(text: str) -> str:
    """Kernel log lines back into /dev/kmsg records ("prio,seq,usec,flags;text")."""
    out = []
    for seq, line in enumerate(text.splitlines()):
        m = re.match(r"^\[ *(\d+)\.(\d{6})\] (.*)$", line)
        assert m, line
        usec = int(m.group(1)) * 1_000_000 + int(m.group(2))
        msg = m.group(3).replace("\\", "\\x5c")
        out.append(f"6,{seq},{usec},-;{msg}\n")
        if seq % 50 == 0:   # a dictionary continuation line, which dmesg does not show
            out.append(" SUBSYSTEM=test\n")
    return "".join(out)


def build_fake_root(src: Path, dst: Path, *, debugfs: bool = True) -> Path:
    """A machine tree under ``dst`` whose files are the capture ``src``'s."""
    proc = dst / "proc"
    proc.mkdir(parents=True)
    for name in PROC_FILES:
        (proc / name).write_text(read_text(src / f"{name}.txt"))
    (proc / "uptime").write_text("9.23 8.50\n")
    # /proc/cpuinfo with as many processors as the capture's summary says
    n_cpus, model = read_text(src / "cpuinfo_summary.txt").splitlines()[:2]
    (proc / "cpuinfo").write_text("".join(
        f"processor\t: {i}\nvendor_id\t: AuthenticAMD\n{model}\nflags\t\t: fpu\n\n"
        for i in range(int(n_cpus))))
    vm = proc / "sys" / "vm"
    vm.mkdir(parents=True)
    for line in read_text(src / "sys_vm.txt").splitlines():
        name, value = line.split(" = ", 1)
        p = vm / name
        p.write_text(value.strip().replace(" ", "\t") + "\n")
        if "can't open" in value:
            p.write_text("")
            p.chmod(0o200)   # write-only knob: the tool must not read it
    # debugfs
    dbg = dst / "sys" / "kernel" / "debug"
    dbg.mkdir(parents=True)
    if debugfs:
        (dbg / "extfrag").mkdir()
        for name in ("extfrag_index", "unusable_index"):
            (dbg / "extfrag" / name).write_text(read_text(src / f"{name}.txt"))
        if (src / "page_owner.txt.gz").exists():
            with gzip.open(src / "page_owner.txt.gz", "rb") as fi, open(dbg / "page_owner", "wb") as fo:
                shutil.copyfileobj(fi, fo)
        if (src / "page_owner_stacks_show_stacks.txt").exists():
            (dbg / "page_owner_stacks").mkdir()
            shutil.copy(src / "page_owner_stacks_show_stacks.txt", dbg / "page_owner_stacks" / "show_stacks")
    # CMA: the directories a 6.12 kernel with CONFIG_CMA_DEBUGFS/SYSFS has (empty without
    # an area), and the areas' files from the capture's cma_debugfs/cma_sysfs
    cma_dirs = [dst / "sys" / "kernel" / "mm" / "cma"] + ([dbg / "cma"] if debugfs else [])
    for d in cma_dirs:
        d.mkdir(parents=True)
    for name in ("cma_debugfs", "cma_sysfs"):
        if not debugfs and name == "cma_debugfs":
            continue
        text = read_text(src / f"{name}.txt") if (src / f"{name}.txt").exists() else ""
        for block in text.split("### ")[1:]:
            path, _, value = block.partition("\n")
            p = dst / path.lstrip("/")
            p.parent.mkdir(parents=True, exist_ok=True)
            if value.startswith("cat: read error"):
                p.write_text("")
                p.chmod(0o200)          # write-only (alloc, free): the tool must not read it
            else:
                p.write_text(value.rstrip("\n") + "\n")
    # /sys/devices/system/node from node_info.txt
    node = dst / "sys" / "devices" / "system" / "node"
    node.mkdir(parents=True)
    cur = None
    section = None
    for line in read_text(src / "node_info.txt").splitlines():
        m = re.match(r"^### /sys/devices/system/node/(node\d+)$", line)
        if m:
            cur = node / m.group(1)
            cur.mkdir()
            section = "meminfo"
            continue
        if cur is None:
            key, value = line.split(": ", 1)
            (node / key).write_text(value + "\n")
        elif line == "--- numastat":
            section = "numastat"
        elif line.startswith(("cpulist: ", "distance: ")):
            key, value = line.split(": ", 1)
            (cur / key).write_text(value + "\n")
        else:
            with open(cur / section, "a") as fh:
                fh.write(line + "\n")
    # /sys/devices/system/memory from memory_blocks.txt
    mem = dst / "sys" / "devices" / "system" / "memory"
    mem.mkdir(parents=True)
    for line in read_text(src / "memory_blocks.txt").splitlines():
        head, rest = line.split(" ", 1)
        if head in ("block_size_bytes", "auto_online_blocks"):
            (mem / head).write_text(rest + "\n")
            continue
        d = mem / head
        d.mkdir()
        kv = dict(tok.split("=", 1) for tok in rest.split())
        for key, value in kv.items():
            if key == "node":
                (d / f"node{value}").symlink_to(Path("..") / ".." / "node" / f"node{value}")
            else:
                (d / key).write_text(value.replace(",", " ") + "\n")
    (dst / "dev").mkdir()
    (dst / "dev" / "kmsg").write_text(_dmesg_to_kmsg(read_text(src / "dmesg.txt")))
    return dst


@pytest.fixture(scope="module")
def fake_b1g(tmp_path_factory):
    return build_fake_root(REAL / "b-1G", tmp_path_factory.mktemp("root-b1g"))


def _assert_same_capture(got, want, frames=FRAMES):
    for name in frames:
        a, b = getattr(got, name)(), getattr(want, name)()
        pdt.assert_frame_equal(a, b, obj=name)
    assert got.cmdline == want.cmdline
    assert got.nr_cpus == want.nr_cpus
    assert got.layout.ram == want.layout.ram
    assert got.dmesg_info == want.dmesg_info


def test_collect_cma_files_read_back_equal(tmp_path):
    # the real capture's CMA area, collected from a machine tree holding its files
    src = REAL / "h-1G-cma64M"
    root = build_fake_root(src, tmp_path / "root")
    out = tmp_path / "cap"
    res = collect(out, root=root, page_owner=False)
    assert res.record("cma_debugfs").ok and res.record("cma_sysfs").ok
    pdt.assert_frame_equal(pextlab.read_capture(out).df_cma(), pextlab.read_capture(src).df_cma())
    text = (out / "cma_debugfs.txt").read_text()
    assert "/alloc" not in text and "/free" not in text      # write-only: never opened
    assert (out / "cma_sysfs.txt").read_text() == read_text(src / "cma_sysfs.txt")


def test_collect_without_cma_area_keeps_an_empty_file(fake_b1g, tmp_path):
    res = collect(tmp_path / "cap", root=fake_b1g, page_owner=False)
    assert res.record("cma_debugfs").ok and res.record("cma_debugfs").bytes == 0
    assert pextlab.read_capture(tmp_path / "cap").df_cma().empty


@pytest.mark.parametrize("scenario", ["b-1G", "f-numa2"])
def test_collect_fake_tree_reads_back_equal(scenario, fake_b1g, tmp_path):
    src = REAL / scenario
    root = fake_b1g if scenario == "b-1G" else build_fake_root(src, tmp_path / "root")
    out = tmp_path / "cap"
    res = collect(out, root=root)
    assert res.ok and res.missing_essentials == []
    assert res.skipped == {}, res.skipped
    _assert_same_capture(pextlab.read_capture(out), pextlab.read_capture(src))
    # the text files are byte copies; the formatted ones are the capture's own format
    for name in PROC_FILES + ("extfrag_index", "unusable_index", "memory_blocks", "node_info",
                              "cpuinfo_summary", "dmesg", "page_owner_stacks_show_stacks"):
        assert (out / f"{name}.txt").read_text() == read_text(src / f"{name}.txt"), name
    # page_owner is over 1 MB: gzipped, same content
    assert not (out / "page_owner.txt").exists()
    assert read_text(out / "page_owner.txt.gz") == read_text(src / "page_owner.txt.gz")
    assert res.record("page_owner").bytes == len(read_text(src / "page_owner.txt.gz").encode())


def test_manifest_and_sys_vm(fake_b1g, tmp_path):
    out = tmp_path / "cap"
    res = collect(out, root=fake_b1g)
    man = pd.read_csv(out / "MANIFEST.tsv", sep="\t", keep_default_na=False)
    assert list(man.columns) == ["name", "file", "bytes", "status", "uptime_s", "note"]
    assert man["name"].tolist() == [r.name for r in res.records]
    for row in man.itertuples():
        assert row.status == "ok"
        assert row.file
        if not row.file.endswith(".gz"):
            assert (out / row.file).stat().st_size == row.bytes
    assert set(man["uptime_s"].astype(str)) == {"9.23"}
    vm = (out / "sys_vm.txt").read_text().splitlines()
    assert "lowmem_reserve_ratio = 256 256 32 0 0" in vm
    assert "min_free_kbytes = 45056" in vm
    assert "compact_memory = <write-only>" in vm   # never opened
    assert (out / "cpuinfo_summary.txt").read_text() == "1\nmodel name\t: QEMU Virtual CPU version 2.5+\n"


def test_snapshot_label_and_appended_manifest(fake_b1g, tmp_path):
    out = tmp_path / "cap"
    collect(out, root=fake_b1g, page_owner=False)
    res = collect(out, root=fake_b1g, snapshot="after_compact", page_owner=False)
    assert res.ok
    assert (out / "buddyinfo.after_compact.txt").exists() and (out / "buddyinfo.txt").exists()
    assert not (out / "page_owner.after_compact.txt.gz").exists()
    man = pd.read_csv(out / "MANIFEST.tsv", sep="\t", keep_default_na=False)
    assert (man["name"] == "buddyinfo").sum() == 2
    assert "buddyinfo.after_compact.txt" in set(man["file"])
    cap = pextlab.read_capture(out, snapshot="after_compact")
    assert cap.path("buddyinfo").name == "buddyinfo.after_compact.txt"
    pdt.assert_frame_equal(cap.df_zones(), pextlab.read_capture(REAL / "b-1G").df_zones())
    with pytest.raises(pextlab.PextlabError, match="snapshot label"):
        collect(out, root=fake_b1g, snapshot="../x")


def test_compress_threshold_and_rerun_replaces_variant(fake_b1g, tmp_path):
    out = tmp_path / "cap"
    res = collect(out, root=fake_b1g, page_owner=False, compress_over=1000)
    assert res.record("buddyinfo").file == "buddyinfo.txt"              # 200 bytes
    assert res.record("zoneinfo").file == "zoneinfo.txt.gz"             # 3647 bytes
    assert res.record("zoneinfo").bytes == len(read_text(REAL / "b-1G" / "zoneinfo.txt"))
    with gzip.open(out / "zoneinfo.txt.gz", "rt") as fh:
        assert fh.read() == read_text(REAL / "b-1G" / "zoneinfo.txt")
    pdt.assert_frame_equal(pextlab.read_capture(out).df_zones(),
                           pextlab.read_capture(REAL / "b-1G").df_zones())
    collect(out, root=fake_b1g, page_owner=False, compress_over=None)
    assert (out / "zoneinfo.txt").exists() and not (out / "zoneinfo.txt.gz").exists()
    assert not list(out.glob("*.part"))


def test_no_debugfs_is_skipped_with_notes(tmp_path, capsys):
    root = build_fake_root(REAL / "e-1G-noowner", tmp_path / "root", debugfs=False)
    out = tmp_path / "cap"
    rc = main([str(out), "--root", str(root)])
    assert rc == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    res_names = ("extfrag_index", "unusable_index", "page_owner", "page_owner_stacks_show_stacks")
    for name in res_names:
        assert re.search(rf"^pextlab capture: {name}: skipped: debugfs is not mounted", err, re.M), err
    man = pd.read_csv(out / "MANIFEST.tsv", sep="\t", keep_default_na=False).set_index("name")
    for name in res_names:
        assert man.loc[name, "status"] == "skipped"
        assert "debugfs is not mounted" in man.loc[name, "note"]
    cap = pextlab.read_capture(out)
    assert not cap.has("page_owner")
    pdt.assert_frame_equal(cap.df_pageblocks(), pextlab.read_capture(REAL / "e-1G-noowner").df_pageblocks())
    assert cap.df_extfrag().empty


def test_page_owner_disabled_einval(fake_b1g, tmp_path, monkeypatch):
    """A kernel built with page_owner but booted without page_owner=on answers read() with EINVAL."""
    real_read = os.read

    def fake_read(fd, n):
        if os.readlink(f"/proc/self/fd/{fd}").endswith("/sys/kernel/debug/page_owner"):
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        return real_read(fd, n)

    monkeypatch.setattr(os, "read", fake_read)
    res = collect(tmp_path / "cap", root=fake_b1g, log=io.StringIO())
    rec = res.record("page_owner")
    assert rec.status == "skipped" and "page_owner is disabled" in rec.note
    assert res.ok and res.record("page_owner_stacks_show_stacks").ok
    assert not list((tmp_path / "cap").glob("page_owner.*"))


def test_missing_essential_fails_clearly(fake_b1g, tmp_path, capsys):
    root = tmp_path / "root"
    shutil.copytree(fake_b1g, root, symlinks=True)
    (root / "proc" / "zoneinfo").unlink()
    (root / "proc" / "zoneinfo").mkdir()          # unreadable: read() gives EISDIR
    (root / "proc" / "buddyinfo").unlink()
    rc = main([str(tmp_path / "cap"), "--root", str(root), "--no-page-owner"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "not usable" in err and "zoneinfo" in err and "buddyinfo" in err
    assert "/proc/buddyinfo does not exist" in err


def test_iomem_without_root_counts_as_missing(fake_b1g, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(fake_b1g, root, symlinks=True)
    text = (root / "proc" / "iomem").read_text()
    (root / "proc" / "iomem").write_text(re.sub(r"[0-9a-f]+-[0-9a-f]+ :", "00000000-00000000 :", text))
    res = collect(tmp_path / "cap", root=root, page_owner=False, log=io.StringIO())
    assert not res.ok and res.missing_essentials == ["iomem"]
    assert "read as root" in res.record("iomem").note


def test_kpageflags_gzipped(fake_b1g, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(fake_b1g, root, symlinks=True)
    blob = os.urandom(8 * 5000)
    (root / "proc" / "kpageflags").write_bytes(blob)
    res = collect(tmp_path / "cap", root=root, page_owner=False, kpageflags=True)
    assert res.record("kpageflags").file == "kpageflags.bin.gz"
    assert gzip.decompress((tmp_path / "cap" / "kpageflags.bin.gz").read_bytes()) == blob
    assert pextlab.read_capture(tmp_path / "cap").path("kpageflags").name == "kpageflags.bin.gz"


def test_kmsg_records():
    recs = ["6,1,5123456,-;hello\\x0aworld\n SUBSYSTEM=x\n", "4,2,12,c;back\\x5cslash\n"]
    assert kmsg_to_dmesg(recs) == ("[    5.123456] hello\n[    5.123456] world\n"
                                   "[    0.000012] back\\slash\n")


def test_bad_outdir(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert main([str(f / "sub")]) == 2
    assert "cannot write capture folder" in capsys.readouterr().err
    assert main(["--bogus"]) == 2


def test_live_machine(tmp_path):
    """This machine's own /proc and /sys: never a traceback, notes for what is missing."""
    out = tmp_path / "live"
    res = collect(out, root="/", log=io.StringIO())
    assert res.record("zoneinfo").ok and res.record("buddyinfo").ok
    if os.geteuid() == 0:
        assert res.ok, res.skipped
    for r in res.records:
        assert r.ok or r.note, r
    cap = pextlab.read_capture(out)
    zones = cap.df_zones()
    assert (zones["managed"] > 0).any()
    assert cap.df_buddyinfo()["nr_free"].sum() > 0
    if res.record("page_owner").ok:
        assert len(cap.df_page_owner()) > 0
    else:
        assert res.record("page_owner").note
    assert set(ESSENTIALS) <= {r.name for r in res.records}
