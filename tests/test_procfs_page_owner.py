"""page_owner dump reader/writer: real 6.12 dumps, every format variant, malformed input."""
from __future__ import annotations

import gzip
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pextlab.errors import ParseError
from pextlab.procfs.page_owner import (
    MIGRATETYPE_NAMES, MIGRATETYPE_NAMES_V3_19, PAGE_OWNER_VARIANTS, detect_variant,
    format_page_owner, iter_page_owner_chunks, read_page_owner, write_page_owner,
)
from pextlab.procfs.limits import PID_MAX_LIMIT
from pextlab.procfs.stacks import read_show_stacks
from pextlab.schema import SCHEMAS, conform, top_frame_of

DATA = Path(__file__).parents[1] / "data" / "real-kernel"
DUMPS = sorted(DATA.glob("*/page_owner*.txt.gz"))


def _plain_count(path) -> int:
    with gzip.open(path, "rt") as fh:
        return sum(1 for line in fh if line.startswith("Page allocated via"))


# --------------------------------------------------------------------------------------
# Real dumps
# --------------------------------------------------------------------------------------

def test_real_dumps_are_present():
    names = {p.relative_to(DATA).as_posix() for p in DUMPS}
    assert {"b-1G/page_owner.txt.gz", "b-1G/page_owner.after_compact.txt.gz",
            "f-numa2/page_owner.txt.gz"} <= names


@pytest.mark.parametrize("path", DUMPS, ids=lambda p: p.relative_to(DATA).as_posix())
def test_real_dump_reads_with_plain_count(path):
    df = read_page_owner(path)
    assert len(df) == _plain_count(path)
    assert list(df.columns) == list(SCHEMAS["page_owner"])
    assert [str(t) for t in df.dtypes] == list(SCHEMAS["page_owner"].values())
    assert df.attrs["skipped"] == 0
    # 6.12 format: every field is present
    assert (df.pid >= 0).all() and (df.tgid >= 0).all() and df.comm.notna().all()
    assert (df.ts_ns > 0).all() and (df.free_ts_ns == -1).all()
    assert df.node.ge(0).all() and df.zone.notna().all()
    assert set(df.zone.unique()) <= {"DMA", "DMA32", "Normal", "Movable"}
    assert (df.nr_pages.to_numpy() == np.left_shift(1, df.order.to_numpy().astype(np.int64))).all()
    pfn = df.pfn.to_numpy()
    assert (df.pageblock.to_numpy() == pfn >> 9).all()
    assert (df.section.to_numpy() == pfn >> 15).all()
    assert df.pfn.is_unique
    # stack handles number distinct stacks 1.. by first appearance
    codes, uniq = pd.factorize(df["stack"].astype(object))
    assert (df.stack_handle.to_numpy() == codes + 1).all()
    assert df.stack_handle.iloc[0] == 1
    assert (df.mixed == (df.migratetype.astype(object) != df.pageblock_migratetype.astype(object))).all()
    # early pages: mask 0x0(), Unmovable, the register_early_stack dummy stack
    early = df[df.gfp_mask == 0]
    assert len(early) > 1000
    assert (early.gfp == "").all() and (early.migratetype == "Unmovable").all()
    assert early["stack"].astype(str).str.startswith("register_early_stack+").all()


def test_real_dump_first_record_fields():
    df = read_page_owner(DATA / "b-1G" / "page_owner.txt.gz")
    r = df.iloc[0]
    assert r.pfn == 0x1731 and r.order == 0 and r.gfp_mask == 0x140dca
    assert r.gfp == "GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO"
    assert (r.pid, r.tgid, r.comm, r.ts_ns) == (185, 185, "leaky", 1058431417)
    assert r.migratetype == r.pageblock_migratetype == "Movable" and not r.mixed
    assert r.pageblock == 11 and r.node == 0 and r.zone == "DMA32"
    assert r["stack"].split("\n")[0] == "get_page_from_freelist+0x1673/0x1730"
    assert r["stack"].split("\n")[-1] == "asm_exc_page_fault+0x26/0x30"
    assert r.top_frame == "__handle_mm_fault"
    assert pd.isna(r.last_migrate_reason)


def _leak_truth(path):
    """Chains (count, stack) and extra same-comm records per stack from leak_truth.txt."""
    text = path.read_text()
    chains = {}
    for m in re.finditer(r"^chain (\w): (\d+) PFNs[^\n]*\n(?:  [^\n]*\n)*?  stack x(\d+):\n((?:    .*\n)+)", text, re.M):
        chains[m.group(1)] = (int(m.group(2)), "\n".join(l.strip() for l in m.group(4).splitlines()))
    others = {}
    tail = text.split("other records with comm leaky", 1)[1]
    for m in re.finditer(r"^  stack x(\d+) \(orders \{0: \d+\}\):\n((?:    .*\n)+)", tail, re.M):
        s = "\n".join(l.strip() for l in m.group(2).splitlines())
        others[s] = others.get(s, 0) + int(m.group(1))
    return chains, others


@pytest.mark.parametrize("folder", ["b-1G", "f-numa2"])
def test_known_leak_is_visible(folder):
    df = read_page_owner(DATA / folder / "page_owner.txt.gz")
    chains, others = _leak_truth(DATA / folder / "leak_truth.txt")
    assert {c[0] for c in chains.values()} == {20000, 5000}
    leaky = df[df.comm == "leaky"]
    per_stack = leaky.groupby("stack", observed=True).nr_pages.sum().sort_values(ascending=False)
    # the two biggest leaky stacks are the two chains (plus the few other leaky
    # records leak_truth lists under the very same stack)
    top2 = per_stack.head(2)
    want = {s: n + others.get(s, 0) for n, s in chains.values()}
    assert dict(top2) == want
    assert per_stack.iloc[2] < 100
    for n, s in chains.values():
        rows = leaky[leaky["stack"] == s]
        assert (rows.gfp_mask == 0x140dca).all() and (rows.order == 0).all()
        assert rows.stack_handle.nunique() == 1
    depth = {n: s.count("\n") + 1 for n, s in chains.values()}
    assert depth == {20000: 8, 5000: 12}
    if folder == "f-numa2":
        assert (leaky.node == 1).all()


def test_leak_stack_matches_show_stacks():
    df = read_page_owner(DATA / "b-1G" / "page_owner.txt.gz")
    ss = read_show_stacks(DATA / "b-1G" / "page_owner_stacks_show_stacks.txt")
    per_stack = df[~df["stack"].astype(str).str.startswith("register_early_stack")] \
        .groupby("stack", observed=True).nr_pages.sum()
    shown = ss.set_index("stack").nr_base_pages
    populate = [s for s in shown.index if "__mm_populate" in s and shown[s] == 5000]
    assert len(populate) == 1 and per_stack[populate[0]] == 5000
    # the two captures are seconds apart: totals agree to within 1%
    assert abs(per_stack.sum() - shown.sum()) < 0.01 * shown.sum()
    both = per_stack.index.intersection(shown.index)
    assert len(both) == len(shown)
    assert (per_stack[both].to_numpy() == shown[both].to_numpy()).mean() > 0.95


def test_after_compact_migrate_reason():
    path = DATA / "b-1G" / "page_owner.after_compact.txt.gz"
    df = read_page_owner(path)
    with gzip.open(path, "rt") as fh:
        n = sum(1 for line in fh if line.startswith("Page has been migrated"))
    assert n > 0
    assert df.last_migrate_reason.notna().sum() == n
    assert set(df.last_migrate_reason.dropna().unique()) == {"compaction"}


def test_real_dump_rewritten_in_v6_12_matches_except_flags():
    path = DATA / "b-1G" / "page_owner.after_compact.txt.gz"
    df = read_page_owner(path)
    with gzip.open(path, "rt") as fh:
        orig = fh.read()
    out = format_page_owner(df, variant="v6.12")
    strip = lambda t: re.sub(r"(?m)^(PFN .* Flags ).*$", r"\1", t)  # noqa: E731
    assert strip(out) == strip(orig)
    assert detect_variant(orig[:4096]) in ("v6.7", "v6.12")
    back = read_page_owner(out)
    pd.testing.assert_frame_equal(back, df, check_categorical=False)


def test_stream_chunks_equal_whole():
    path = DATA / "f-numa2" / "page_owner.txt.gz"
    whole = read_page_owner(path)
    chunks = list(iter_page_owner_chunks(path, chunk_records=5000))
    assert len(chunks) > 3
    for c in chunks:
        assert list(c.columns) == list(SCHEMAS["page_owner"])
    cat = pd.concat([c.astype({k: object for k, v in SCHEMAS["page_owner"].items() if v == "category"})
                     for c in chunks], ignore_index=True)
    w = whole.astype({k: object for k, v in SCHEMAS["page_owner"].items() if v == "category"})
    pd.testing.assert_frame_equal(cat, w)


def test_file_object_and_text_sources():
    path = DATA / "b-1G" / "page_owner.txt.gz"
    a = read_page_owner(path)
    with open(path, "rb") as fh:
        b = read_page_owner(gzip.GzipFile(fileobj=fh))
    text = gzip.open(path, "rt").read()[:200000]
    text = text[:text.rfind("\n\n") + 2]
    c = read_page_owner(io.StringIO(text))
    assert len(a) == len(b) and len(c) == text.count("Page allocated via")
    assert (a.pfn.to_numpy() == b.pfn.to_numpy()).all()


# --------------------------------------------------------------------------------------
# Hand-written texts, one per variant (exact formats of kernel-reference §2.4)
# --------------------------------------------------------------------------------------

V3_19 = """\
Page allocated via order 0, mask 0x201da
PFN 4096 Block 8 type 2          Flags    U  LA     M
 [<ffffffff8116147e>] __alloc_pages_nodemask+0x1de/0xb00
 [<ffffffff811a8ddc>] alloc_pages_vma+0x9c/0x1c0
 [<ffffffff81184c8c>] handle_mm_fault+0xd0c/0x1520

Page allocated via order 2, mask 0xd0
PFN 8196 Block 16 type 2 Fallback Flags K      S    
 [<ffffffff8116147e>] __alloc_pages_nodemask+0x1de/0xb00
 [<ffffffff811b1fba>] kmem_getpages+0x5a/0x120

"""

V4_6 = """\
Page allocated via order 0, mask 0x24213ca(GFP_HIGHUSER_MOVABLE|GFP_COLD|GFP_NOWARN|GFP_NORETRY)
PFN 674308 type Movable Block 1317 type Movable Flags 0x1fffff80010068(uptodate|lru|active|mappedtodisk)
 [<ffffffff81164e9a>] __alloc_pages_nodemask+0x15a/0xa30
 [<ffffffff811b1bce>] alloc_pages_current+0x8e/0x100
 [<ffffffffc01a2f10>] xfs_file_read_iter+0x1f0/0x380 [xfs]

Page allocated via order 1, mask 0x24000c0(GFP_KERNEL)
PFN 674310 type Unmovable Block 1317 type Movable Flags 0x0()
 [<ffffffff81164e9a>] __alloc_pages_nodemask+0x15a/0xa30
 [<ffffffff811b1bce>] alloc_pages_current+0x8e/0x100
Page has been migrated, last migrate reason: compaction

"""

V5_4 = """\
Page allocated via order 0, mask 0x100cca(GFP_HIGHUSER_MOVABLE)
PFN 262144 type Movable Block 512 type Movable Flags 0x17ffffc0000000()
 prep_new_page+0xac/0xe0
 get_page_from_freelist+0x1055/0x1370
 xfs_file_read_iter+0x1f0/0x380 [xfs]

"""

V5_11 = """\
Page allocated via order 0, mask 0x0(), pid 1, ts 460209702 ns
PFN 4097 type Unmovable Block 8 type Unmovable Flags 0x1000(reserved)
 register_early_stack+0x36/0x50
 init_page_owner+0x2b/0x2b0

"""

V5_13 = """\
Page allocated via order 0, mask 0x0(), pid 1, ts 460209702 ns, free_ts 0 ns
PFN 4097 type Unmovable Block 8 type Unmovable Flags 0x1000(reserved)
 register_early_stack+0x36/0x50
 init_page_owner+0x2b/0x2b0

Page allocated via order 3, mask 0x52dc0(GFP_KERNEL|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP|__GFP_ZERO), pid 77, ts 510209702 ns, free_ts 500000001 ns
PFN 5000 type Unmovable Block 9 type Movable Flags 0x10200(slab|head)
 allocate_slab+0x28/0x3f0

"""

V5_18 = """\
Page allocated via order 0, mask 0x1100cca(GFP_HIGHUSER_MOVABLE), pid 162970 (podman), ts 1097761405537 ns, free_ts 1097760838089 ns
PFN 1925700 type Movable Block 3761 type Movable Flags 0x17ffffc00c001c(uptodate|dirty|lru|reclaim|swapbacked|node=0|zone=2|lastcpupid=0x1fffff)
 prep_new_page+0xac/0xe0
 get_page_from_freelist+0x1055/0x1370

"""

V5_19 = """\
Page allocated via order 0, mask 0xcc0(GFP_KERNEL), pid 5640, tgid 5638 (kworker/u8:3 (x)), ts 414987114269 ns, free_ts 0 ns
PFN 1925701 type Unmovable Block 3761 type Movable Flags 0x27ffffc0000200(workingset|node=1|zone=3)
 get_page_from_freelist+0x1673/0x1730
 kmem_cache_alloc_noprof+0x139/0x240
Page has been migrated, last migrate reason: memory_hotplug
Slab cache page
Charged (via objcg) to offline memcg system.slice

"""

V6_5 = """\
Page allocated via order 1, mask 0x52cc0(GFP_KERNEL|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP), pid 12, tgid 12 (kthreadd), ts 99 ns, free_ts 7 ns
PFN 0x1d6c2 type Unmovable Block 235 type Unmovable Flags 0x4000000000000040(head|node=1|zone=0)
 get_page_from_freelist+0x1673/0x1730

"""

V6_12 = """\
Page allocated via order 0, mask 0xd2cc0(GFP_KERNEL|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP|__GFP_NOMEMALLOC), pid 5640, tgid 5640 (stress-ng-brk), ts 414987114269 ns
PFN 0x114 type Unmovable Block 0 type Unmovable Flags 0x200(workingset|node=0|zone=0)
 get_page_from_freelist+0x1673/0x1730
 __alloc_pages_noprof+0x12e/0x230

"""


def test_v3_19_numeric_pfn_line_and_address_frames():
    df = read_page_owner(V3_19)
    assert detect_variant(V3_19) == "v3.19"
    assert len(df) == 2
    a, b = df.iloc[0], df.iloc[1]
    assert (a.pfn, a.order, a.gfp_mask, a.pageblock) == (4096, 0, 0x201da, 8)
    assert pd.isna(a.gfp) and a.pid == -1 and a.tgid == -1 and pd.isna(a.comm) and a.ts_ns == -1
    # type 2 with v3.19's names is Movable; the mask has __GFP_MOVABLE (0x08)
    assert a.pageblock_migratetype == "Movable" and a.migratetype == "Movable" and not a.mixed
    # "Fallback": the page's type (GFP_KERNEL 0xd0: Unmovable) differs from the block's
    assert b.mixed and b.migratetype == "Unmovable" and b.pageblock_migratetype == "Movable"
    assert b.order == 2 and b.nr_pages == 4
    assert a["stack"].split("\n")[0] == "[<ffffffff8116147e>] __alloc_pages_nodemask+0x1de/0xb00"
    assert a.top_frame == "handle_mm_fault" and b.top_frame == "kmem_getpages"
    assert a.node == -1 and pd.isna(a.zone)
    assert MIGRATETYPE_NAMES_V3_19[3] == "Reserve"


def test_v3_19_line_without_trailing_blanks():
    text = V3_19.replace("Flags    U  LA     M", "Flags").replace("Flags K      S    ", "Flags")
    assert len(read_page_owner(text)) == 2


def test_v4_6_names_flags_and_module_frame():
    df = read_page_owner(V4_6)
    assert detect_variant(V4_6) == "v4.6"
    a, b = df.iloc[0], df.iloc[1]
    assert a.gfp == "GFP_HIGHUSER_MOVABLE|GFP_COLD|GFP_NOWARN|GFP_NORETRY" and a.gfp_mask == 0x24213ca
    assert a.pfn == 674308 and a.pageblock == 1317 and a.migratetype == "Movable"
    assert a["stack"].endswith("[<ffffffffc01a2f10>] xfs_file_read_iter+0x1f0/0x380 [xfs]")
    assert b.mixed and b.migratetype == "Unmovable" and b.pageblock_migratetype == "Movable"
    assert b.last_migrate_reason == "compaction" and pd.isna(a.last_migrate_reason)
    assert a.pid == -1 and a.node == -1   # 4.6's %pGp had no node/zone fields


def test_v5_4_symbol_frames():
    df = read_page_owner(V5_4)
    assert detect_variant(V5_4) == "v5.4"
    assert df.iloc[0]["stack"] == ("prep_new_page+0xac/0xe0\nget_page_from_freelist+0x1055/0x1370\n"
                                   "xfs_file_read_iter+0x1f0/0x380 [xfs]")
    assert df.iloc[0].top_frame == "xfs_file_read_iter"


def test_v5_11_pid_ts():
    df = read_page_owner(V5_11)
    assert detect_variant(V5_11) == "v5.11"
    r = df.iloc[0]
    assert (r.pid, r.tgid, r.ts_ns, r.free_ts_ns) == (1, -1, 460209702, -1)
    assert pd.isna(r.comm) and r.gfp == "" and r.gfp_mask == 0


def test_v5_13_free_ts():
    df = read_page_owner(V5_13)
    assert detect_variant(V5_13) == "v5.13"
    assert df.free_ts_ns.tolist() == [-1, 500000001]          # "free_ts 0 ns" = never freed
    assert df.order.tolist() == [0, 3] and df.nr_pages.tolist() == [1, 8]
    assert df.mixed.tolist() == [False, True]


def test_v5_18_comm_and_pgp_fields():
    df = read_page_owner(V5_18)
    assert detect_variant(V5_18) == "v5.18"
    r = df.iloc[0]
    assert (r.pid, r.tgid, r.comm) == (162970, -1, "podman")
    assert (r.node, r.zone) == (0, "Normal")
    assert r.free_ts_ns == 1097760838089


def test_v5_19_tgid_optional_lines_and_odd_comm():
    df = read_page_owner(V5_19)
    assert detect_variant(V5_19) == "v5.19"
    r = df.iloc[0]
    assert (r.pid, r.tgid, r.comm) == (5640, 5638, "kworker/u8:3 (x)")
    assert (r.node, r.zone) == (1, "Movable")
    assert r.last_migrate_reason == "memory_hotplug"
    assert r["stack"] == "get_page_from_freelist+0x1673/0x1730\nkmem_cache_alloc_noprof+0x139/0x240"


def test_v6_5_hex_pfn_with_free_ts():
    df = read_page_owner(V6_5)
    assert detect_variant(V6_5) == "v6.5"
    r = df.iloc[0]
    assert r.pfn == 0x1d6c2 and r.pageblock == 235 and r.free_ts_ns == 7 and r.order == 1
    assert (r.node, r.zone) == (1, "DMA")


def test_v6_12():
    df = read_page_owner(V6_12)
    assert detect_variant(V6_12) == "v6.12"
    r = df.iloc[0]
    assert (r.pfn, r.pid, r.tgid, r.comm, r.ts_ns, r.free_ts_ns) == (0x114, 5640, 5640, "stress-ng-brk",
                                                                      414987114269, -1)
    assert r.zone == "DMA" and r.node == 0


def test_custom_zone_names_and_layout_arguments():
    with pytest.warns(UserWarning, match="pageblock_order=9"):
        df = read_page_owner(V5_19, zone_names=("Z0", "Z1", "Z2", "Z3"), pageblock_order=10,
                             section_size_bits=30, sections_per_block=2)
    r = df.iloc[0]
    assert r.zone == "Z3"
    assert r.pageblock == 1925701 >> 10 and r.section == 1925701 >> 18 and r.memory_block == (1925701 >> 18) // 2
    assert df.attrs["block_mismatch"] == 1   # the file says Block 3761 (order 9)


def test_mixed_variants_in_one_text():
    df = read_page_owner(V3_19 + V4_6 + V5_13 + V5_19 + V6_12)
    assert len(df) == 2 + 2 + 2 + 1 + 1
    assert df.stack_handle.max() == df["stack"].nunique()


def test_missing_final_empty_line_is_tolerated():
    assert len(read_page_owner(V6_12.rstrip("\n"))) == 1
    assert len(read_page_owner(V6_12[:-1])) == 1


def test_empty_input():
    df = read_page_owner("")
    assert len(df) == 0 and list(df.columns) == list(SCHEMAS["page_owner"])
    assert list(iter_page_owner_chunks(io.StringIO(""), chunk_records=10)) == []


# --------------------------------------------------------------------------------------
# Writer: exact text
# --------------------------------------------------------------------------------------

def _one_row(**kw) -> pd.DataFrame:
    base = dict(pfn=0x114, order=0, nr_pages=1, gfp_mask=0xcc0, gfp="GFP_KERNEL", migratetype="Unmovable",
                pageblock=0, pageblock_migratetype="Unmovable", mixed=False, node=0, zone="DMA",
                section=0, memory_block=0, stack_handle=1, stack="a+0x1/0x2\nb+0x3/0x4", top_frame="a",
                pid=5, tgid=4, comm="sh", ts_ns=100, free_ts_ns=-1, last_migrate_reason=None)
    base.update(kw)
    return conform(pd.DataFrame({k: [v] for k, v in base.items()}), "page_owner")


@pytest.mark.parametrize("variant, header, pfnline", [
    ("v3.19", "Page allocated via order 0, mask 0xcc0", "PFN 276 Block 0 type 0          Flags             "),
    ("v4.6", "Page allocated via order 0, mask 0xcc0(GFP_KERNEL)",
     "PFN 276 type Unmovable Block 0 type Unmovable Flags 0x0()"),
    ("v5.11", "Page allocated via order 0, mask 0xcc0(GFP_KERNEL), pid 5, ts 100 ns",
     "PFN 276 type Unmovable Block 0 type Unmovable Flags 0x0()"),
    ("v5.13", "Page allocated via order 0, mask 0xcc0(GFP_KERNEL), pid 5, ts 100 ns, free_ts 0 ns",
     "PFN 276 type Unmovable Block 0 type Unmovable Flags 0x0()"),
    ("v5.18", "Page allocated via order 0, mask 0xcc0(GFP_KERNEL), pid 5 (sh), ts 100 ns, free_ts 0 ns",
     "PFN 276 type Unmovable Block 0 type Unmovable Flags 0x0(node=0|zone=0)"),
    ("v5.19", "Page allocated via order 0, mask 0xcc0(GFP_KERNEL), pid 5, tgid 4 (sh), ts 100 ns, free_ts 0 ns",
     "PFN 276 type Unmovable Block 0 type Unmovable Flags 0x0(node=0|zone=0)"),
    ("v6.5", "Page allocated via order 0, mask 0xcc0(GFP_KERNEL), pid 5, tgid 4 (sh), ts 100 ns, free_ts 0 ns",
     "PFN 0x114 type Unmovable Block 0 type Unmovable Flags 0x0(node=0|zone=0)"),
    ("v6.12", "Page allocated via order 0, mask 0xcc0(GFP_KERNEL), pid 5, tgid 4 (sh), ts 100 ns",
     "PFN 0x114 type Unmovable Block 0 type Unmovable Flags 0x0(node=0|zone=0)"),
])
def test_writer_exact_lines(variant, header, pfnline):
    text = format_page_owner(_one_row(), variant=variant)
    lines = text.split("\n")
    assert lines[0] == header and lines[1] == pfnline
    if PAGE_OWNER_VARIANTS[variant].stack_addr:
        assert lines[2:5] == [" [<0000000000000000>] a+0x1/0x2", " [<0000000000000000>] b+0x3/0x4", ""]
    else:
        assert lines[2:5] == [" a+0x1/0x2", " b+0x3/0x4", ""]
    assert text.endswith("\n\n") and text.count("\n") == 5


def test_writer_node_zone_flag_bits_and_migrate_line():
    df = _one_row(node=1, zone="Normal", last_migrate_reason="compaction")
    text = format_page_owner(df, variant="v6.12")
    assert "Flags 0x500000000000000(node=1|zone=2)" in text
    assert text.endswith(" b+0x3/0x4\nPage has been migrated, last migrate reason: compaction\n\n")
    assert "migrate" not in format_page_owner(df, variant="v3.19")
    buf = io.StringIO()
    write_page_owner(df, buf, variant="v5.19")
    assert buf.getvalue() == format_page_owner(df, variant="v5.19")
    with pytest.raises(ValueError, match="unknown page_owner variant"):
        format_page_owner(df, variant="v9.9")


def test_writer_strips_addresses_for_symbol_variants():
    df = _one_row(stack="[<ffffffff8116147e>] a+0x1/0x2")
    assert " a+0x1/0x2\n" in format_page_owner(df, variant="v6.12")
    assert " [<ffffffff8116147e>] a+0x1/0x2\n" in format_page_owner(df, variant="v4.6")


# --------------------------------------------------------------------------------------
# Property test: random records print in every variant and parse back unchanged
# --------------------------------------------------------------------------------------

_SYM = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.]{0,20}", fullmatch=True)
_HEX = st.integers(0, 0xFFFFF).map(lambda v: f"{v:#x}")


@st.composite
def _frame(draw, addr: bool):
    s = draw(_SYM) + "+" + draw(_HEX) + "/" + draw(_HEX)
    if draw(st.booleans()):
        s += " [" + draw(st.from_regex(r"[a-z0-9_]{1,8}", fullmatch=True)) + "]"
    if addr:
        s = f"[<{draw(st.integers(0, 2**64 - 1)):016x}>] " + s
    return s


@st.composite
def _records(draw, variant):
    v = PAGE_OWNER_VARIANTS[variant]
    n = draw(st.integers(1, 6))
    stacks = [ "\n".join(draw(st.lists(_frame(v.stack_addr), min_size=1, max_size=16)))
               for _ in range(draw(st.integers(1, 3)))]
    zones = ("DMA", "DMA32", "Normal", "Movable", "Device")
    rows = []
    for _ in range(n):
        pfn = draw(st.integers(0, 2**40))
        order = draw(st.integers(0, 10))
        mask = draw(st.integers(0, 2**32 - 1))
        row = dict(pfn=pfn, order=order, nr_pages=1 << order, gfp_mask=mask, pageblock=pfn >> 9,
                   section=pfn >> 15, memory_block=pfn >> 15, stack=draw(st.sampled_from(stacks)))
        if v.pfn_line == "numeric":
            k = draw(st.integers(0, 5))
            derived = MIGRATETYPE_NAMES_V3_19[((mask & 0x08 != 0) << 1) | (mask & 0x80000 != 0)]
            row.update(pageblock_migratetype=MIGRATETYPE_NAMES_V3_19[k], migratetype=derived,
                       mixed=derived != MIGRATETYPE_NAMES_V3_19[k], gfp=None)
        else:
            mt = draw(st.sampled_from(MIGRATETYPE_NAMES))
            pb = draw(st.sampled_from(MIGRATETYPE_NAMES))
            row.update(migratetype=mt, pageblock_migratetype=pb, mixed=mt != pb,
                       gfp=draw(st.from_regex(r"(|[A-Z_]{1,12}(\|[A-Z_]{1,12}){0,3})", fullmatch=True)))
        if v.carries_node_zone:
            row.update(node=draw(st.integers(0, 63)), zone=draw(st.sampled_from(zones)))
        else:
            row.update(node=-1, zone=None)
        row.update(pid=draw(st.integers(-1, PID_MAX_LIMIT - 1)) if v.pid else -1,       # pids < pid_max
                   tgid=draw(st.integers(-1, PID_MAX_LIMIT - 1)) if v.tgid else -1,
                   comm=draw(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=15))
                   if v.comm else None,
                   ts_ns=draw(st.integers(0, 2**63 - 1)) if v.ts else -1,
                   free_ts_ns=draw(st.one_of(st.just(-1), st.integers(1, 2**63 - 1))) if v.free_ts else -1,
                   last_migrate_reason=draw(st.sampled_from([None, "compaction", "memory_hotplug", "cma"]))
                   if v.migrate_reason else None)
        rows.append(row)
    df = pd.DataFrame(rows)
    codes, uniq = pd.factorize(df["stack"])
    df["stack_handle"] = codes + 1
    df["top_frame"] = [top_frame_of(s.split("\n")) for s in df["stack"]]
    return conform(df, "page_owner")


def _as_objects(df):
    return df.astype({k: object for k, t in SCHEMAS["page_owner"].items() if t == "category"})


@pytest.mark.parametrize("variant", list(PAGE_OWNER_VARIANTS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_roundtrip_every_variant(variant, data):
    df = data.draw(_records(variant))
    text = format_page_owner(df, variant=variant)
    assert text.count("Page allocated via") == len(df)
    back = read_page_owner(text)
    pd.testing.assert_frame_equal(_as_objects(back), _as_objects(df), check_dtype=False)
    assert [str(t) for t in back.dtypes] == list(SCHEMAS["page_owner"].values())
    # printing the parsed frame again gives the same text
    assert format_page_owner(back, variant=variant) == text
    assert detect_variant(text) in {variant, {"v6.7": "v6.12"}.get(variant, variant)}


# --------------------------------------------------------------------------------------
# Malformed input
# --------------------------------------------------------------------------------------

def _err(text, **kw) -> ParseError:
    with pytest.raises(ParseError) as ei:
        read_page_owner(text, **kw)
    return ei.value


def test_truncated_record_after_header():
    e = _err(V6_12 + V6_12.split("\n")[0] + "\n")
    assert e.line == 7 and "PFN" in e.expected and "truncated" in e.expected
    assert e.file == "<text>"


def test_truncated_in_the_middle_of_a_frame():
    text = V6_12 + V6_12[: V6_12.index("__alloc_pages_noprof+0x1")] + "__alloc_pages_noprof+0x1"
    e = _err(text)
    assert e.line == 9 and "truncated" in e.expected


def test_truncated_in_the_middle_of_the_header():
    e = _err(V6_12 + "Page allocated via order 0, mask 0xd2")
    assert e.line == 6


def test_garbage_line_inside_a_record():
    lines = V5_19.split("\n")
    lines.insert(3, "this is garbage")
    e = _err(V6_12 + "\n".join(lines))
    assert e.line == 5 + 4 and e.got == "this is garbage"
    assert "stack line" in e.expected


def test_garbage_between_records():
    e = _err(V6_12 + "hello world\n\n" + V6_12)
    assert e.line == 6 and e.got == "hello world" and "Page allocated via" in e.expected


def test_bad_pfn_line():
    e = _err(V6_12 + V6_12.replace("PFN 0x114 type Unmovable", "PFN 0x114 kind Unmovable"))
    assert e.line == 7 and "PFN" in e.expected


def test_unknown_header_variants():
    e = _err(V6_12.replace(", tgid 5640 (stress-ng-brk)", ", uid 0"))
    assert e.line == 1 and "Page allocated via order" in e.expected
    e = _err("Page allocated through order 0\n" + V6_12.split("\n", 1)[1])
    assert e.line == 1


def test_pfn_line_of_unknown_format_passed_fast_scan():
    e = _err(V6_12 + V6_12.replace("Block 0 type Unmovable Flags", "Block 0 sort Unmovable Flags"))
    assert e.line == 7


def test_error_line_numbers_in_later_blocks():
    text = V6_12 * 2000 + V6_12.replace(", tgid 5640", ", tgid x") + V6_12
    e = _err(text)
    assert e.line == 2000 * 5 + 1
    with pytest.raises(ParseError) as ei:
        list(iter_page_owner_chunks(io.StringIO(text), chunk_records=100))
    assert ei.value.line == 2000 * 5 + 1


def test_non_strict_skips_and_counts():
    bad_hdr = V6_12.replace(", tgid 5640", ", tgid x")
    garbage = "garbage\n\n"
    truncated = V6_12.split("\n")[0] + "\n"
    text = V6_12 + bad_hdr + V5_13 + garbage + V6_12 + V6_12 + truncated
    df = read_page_owner(text, strict=False)
    assert len(df) == 1 + 2 + 2
    assert df.attrs["skipped"] == 3
    assert df.attrs["skipped_lines"] == [6, 20, 33]
    with pytest.raises(ParseError):
        read_page_owner(text)


def test_corrupt_gzip_is_a_parse_error(tmp_path):
    good = gzip.compress(V6_12.encode() * 100)
    p = tmp_path / "page_owner.txt.gz"
    p.write_bytes(good[: len(good) // 2])
    with pytest.raises(ParseError) as ei:
        read_page_owner(p)
    assert str(p) in str(ei.value)


def test_detect_variant_rejects_non_dumps():
    with pytest.raises(ParseError):
        detect_variant("nr_base_pages: 5\n")
    with pytest.raises(ParseError):
        detect_variant("Page allocated via order 0, mask 0x0(), foo\nPFN 1\n")
