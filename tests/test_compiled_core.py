"""The compiled core (the ``*.pyx`` modules, docs/compiled-core.md) against references
written here from the rules they implement, on inputs the golden scenarios do not
reach: random and extreme values, and the state laws after random operations."""
from __future__ import annotations

import math
import random

import pytest

import pextlab
from pextlab.errors import PextlabError
from pextlab.kernel import buddy, fastpath, page_alloc, vmscan
from pextlab.kernel.debug import check_invariants
from pextlab.workloads.fragger import rng

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


# --- fragger.c's splitmix64 draws, written from the algorithm (Steele, Lea & Flood 2014)
def ref_splitmix64(state):
    state = (state + GOLDEN) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def ref_hash01(seed, salt, item, sub):
    s = (seed ^ (salt * 0xD1B54A32D192ED03) ^ (item * GOLDEN) ^ (sub * 0xFF51AFD7ED558CCD)) & M64
    s, _ = ref_splitmix64(s)
    _, z = ref_splitmix64(s)
    return (z >> 11) * 2.0 ** -53


EXTREME = [0, 1, 2, M64, M64 - 1, 1 << 63, (1 << 63) - 1, -1, -(1 << 70), 1 << 80, 12345]


def test_splitmix64_matches_the_algorithm():
    r = random.Random(7)
    for s in EXTREME + [r.getrandbits(64) for _ in range(2000)]:
        assert rng.splitmix64(s) == ref_splitmix64(s), s


def test_stream_draws_match_the_algorithm():
    r = random.Random(8)
    for seed in EXTREME + [r.getrandbits(64) for _ in range(50)]:
        st, ref = rng.Stream(seed), seed & M64
        for _ in range(40):
            a = r.randrange(1, 1 << 20)
            b = a + r.randrange(0, 1 << 20)
            which = r.randrange(4)
            if which == 0:
                ref, z = ref_splitmix64(ref)
                assert st.next() == z
            elif which == 1:
                ref, z = ref_splitmix64(ref)
                assert st.u01() == (z >> 11) * 2.0 ** -53
            elif which == 2:
                ref, z = ref_splitmix64(ref)
                assert st.uniform(a, b) == a + z % (b - a + 1)
            else:
                ref, z = ref_splitmix64(ref)
                u = (z >> 11) * 2.0 ** -53
                v = int(math.floor(math.exp(math.log(a) + u * (math.log(b + 1) - math.log(a)))))
                assert st.loguniform(a, b) == min(max(v, a), b)
        assert st.s == ref


def test_hash01_and_free_decision_match_the_rule():
    r = random.Random(9)
    for _ in range(3000):
        args = [r.choice(EXTREME) if r.random() < 0.2 else r.getrandbits(r.choice((8, 32, 64)))
                for _ in range(4)]
        assert rng.hash01(*args) == ref_hash01(*args)
    for rnd in (1, 2, 5):
        for item in range(200):
            salt = 16 * (rnd - 1)
            assert rng.free_decision(3, rnd, "anon", item) == (ref_hash01(3, 1 + salt, item, 0) < 0.5)
            assert rng.free_decision(3, rnd, "dir", item, 4) == (ref_hash01(3, 2 + salt, item, 4) < 0.3)
            assert rng.free_decision(3, rnd, "pipe", item) is False


def test_streams_copy_and_pickle_with_their_state():
    import copy
    import pickle
    st = rng.Stream(42)
    st.next()
    for c in (copy.deepcopy(st), pickle.loads(pickle.dumps(st))):
        assert c.s == st.s and c.next() == rng.Stream(st.s).next()


# --- the buddy state after random allocations and frees through the compiled paths
def _free_lists_agree(mm):
    """The kernel state's laws (pextlab.kernel.debug.check_invariants: every free-list
    entry a buddy head of its order and type, the counters the lists' sums, ...)."""
    assert check_invariants(mm) == []


@pytest.mark.parametrize("cmdline", ["page_owner=on", "page_owner=on debug_guardpage_minorder=2",
                                     "page_owner=on pextlab.pcp=on", ""])
def test_random_churn_keeps_the_free_lists_whole(cmdline):
    m = pextlab.boot(mem="256M", cmdline=cmdline, seed=3)
    mm = m.mm
    r = random.Random(cmdline)
    live = []
    gfps = [mm.gfp(g) for g in ("GFP_KERNEL", "GFP_HIGHUSER_MOVABLE", "GFP_KERNEL|__GFP_RECLAIMABLE")]
    for _ in range(4000):
        if live and r.random() < 0.45:
            pfn, order = live.pop(r.randrange(len(live)))
            fastpath.free_pages(mm, pfn, order)
        else:
            order = r.choice((0, 0, 0, 1, 2, 3, 5, 9))
            pfn = page_alloc.__alloc_pages(mm, r.choice(gfps), order)
            if pfn >= 0:
                live.append((pfn, order))
    _free_lists_agree(mm)
    for pfn, order in live:
        fastpath.free_pages(mm, pfn, order)
    _free_lists_agree(mm)
    if mm.page_owner is not None:
        df = m.df_page_owner()
        assert len(df) == 0 or set(df["pfn"]).isdisjoint(p for p, _ in live)


def test_rmqueue_smallest_takes_the_list_head_and_splits():
    """__rmqueue_smallest: the most recently added block of the smallest order that has
    one; expand puts each upper half at the head of its order's list."""
    m = pextlab.boot(mem="256M", cmdline="", seed=1)
    mm = m.mm
    zone = max((z for n in mm.nodes.values() for z in n.zones), key=lambda z: z.free_pages)
    mt = mm.profile.mt_movable
    for want in (0, 2, 0, 1):
        current = min(o for o in range(want, mm.nr_orders) if zone.free_area[o][mt])
        head = next(reversed(zone.free_area[current][mt]))
        pfn = buddy.__rmqueue_smallest(mm, zone, want, mt)
        assert pfn == head
        assert head not in zone.free_area[current][mt]
        for o in range(want, current):
            assert next(reversed(zone.free_area[o][mt])) == head + (1 << o)
        # the allocator's next step (prep_new_page) makes the block an allocated one
        fastpath.prep_new_page(mm, pfn, want, mt, mm.gfp("GFP_HIGHUSER_MOVABLE"))
        _free_lists_agree(mm)


def test_bad_frees_name_what_is_wrong():
    m = pextlab.boot(mem="256M", cmdline="page_owner=on", seed=1)
    mm = m.mm
    p = page_alloc.__alloc_pages(mm, mm.gfp("GFP_KERNEL"), 2)
    with pytest.raises(PextlabError, match="allocated with order 2, freed with order 1"):
        fastpath.free_pages(mm, p, 1)
    with pytest.raises(PextlabError, match="pfn must be an integer"):
        fastpath.free_pages(mm, float(p), 2)
    with pytest.raises(PextlabError, match="order must be an integer"):
        page_alloc.__alloc_pages(mm, mm.gfp("GFP_KERNEL"), 1.5)
    with pytest.raises(PextlabError, match="gfp must be an integer"):
        page_alloc.__alloc_pages(mm, float(mm.gfp("GFP_KERNEL")), 0)
    with pytest.raises(PextlabError, match="outside the memory map"):
        fastpath.free_pages(mm, 1 << 50, 0)
    with pytest.raises(PextlabError, match="out of range"):
        fastpath.free_pages(mm, 1 << 70, 0)
    with pytest.raises(PextlabError, match="outside 0..MAX_PAGE_ORDER"):
        page_alloc.__alloc_pages(mm, mm.gfp("GFP_KERNEL"), 11)
    with pytest.raises(PextlabError, match="pfn must be an integer"):
        m.free_pages(p + 0.4, 2)                 # the public method: never rounded either
    with pytest.raises(PextlabError, match="order must be an integer"):
        m.alloc_pages(2.0)
    fastpath.free_pages(mm, p, 2)
    with pytest.raises(PextlabError, match="free \\(in the buddy allocator\\)"):
        fastpath.free_pages(mm, p, 2)
    _free_lists_agree(mm)


# --- the kernel state's C classes (kernel/_mmzone.pyx, kernel/_state.pyx)
def test_c_fields_keep_their_names_and_copies_keep_them():
    import copy
    import pickle
    m = pextlab.boot(mem="256M", cmdline="page_owner=on", seed=1)
    mm = m.mm
    m.alloc_pages(3)
    mm.clock_ns += 7                    # C fields: read and written by name, as before
    mm.set_task("cc1", 77)
    zone = max(mm.populated_zones(), key=lambda z: z.free_pages)
    sec = next(s for s in mm.sections if s is not None and s.present)
    zone.cma_pages += 1
    zone.cma_pages -= 1
    for z, s in [(copy.deepcopy(zone), copy.deepcopy(sec)),
                 (pickle.loads(pickle.dumps(zone)), pickle.loads(pickle.dumps(sec)))]:
        assert (z.free_pages, z.nr_free, z.watermark, z.name) == (
            zone.free_pages, zone.nr_free, zone.watermark, zone.name)
        assert z.free_area == zone.free_area and z.free_area[0] is not zone.free_area[0]
        assert (s.flags, s.order, s.nids, s.present, s.online) == (
            sec.flags, sec.order, sec.nids, sec.present, sec.online)
        assert type(s.flags) is bytearray and s.flags is not sec.flags
    mc = m.snapshot("copy").machine.mm            # a deep copy, as snapshots make them
    for name in ("clock_ns", "comm", "pid", "tgid", "comm_id", "current_handle",
                 "nr_alloc_events", "nr_free_events", "mobility_grouping", "current_nid"):
        assert getattr(mc, name) == getattr(mm, name), name
    assert mc.geometry.sections is mc.sections and mc.profile == mm.profile
    assert mc.alloc_hook is not None and mc.alloc_hook != mm.alloc_hook
    p = page_alloc.__alloc_pages(mc, mc.gfp("GFP_KERNEL"), 0)     # the copy allocates alone
    assert p >= 0 and mc.nr_alloc_events == mm.nr_alloc_events + 1


def test_c_fields_refuse_what_they_cannot_hold():
    m = pextlab.boot(mem="256M", seed=1)
    zone = m.mm.zonelists[0][0]
    with pytest.raises(TypeError):
        zone.nr_free = (0,) * len(zone.nr_free)       # a list, indexed and assigned
    with pytest.raises(TypeError):
        m.mm.clock_ns = "1"


def test_an_absent_section_is_raised_not_read_through():
    m = pextlab.boot(mem="256M", cmdline="page_owner=on", seed=1)
    mm = m.mm
    p = page_alloc.__alloc_pages(mm, mm.gfp("GFP_KERNEL"), 0)
    nr = p >> mm.section_shift
    sec, mm.sections[nr] = mm.sections[nr], None
    try:
        with pytest.raises(LookupError, match=f"memory section {nr} is not present"):
            fastpath.__free_pages_ok(mm, p, 0)
    finally:
        mm.sections[nr] = sec


# --- page_zone() / page_to_nid() in C (kernel/_geometry.pyx) --------------------------------------

def _zone_of_pfn_ref(mm, pfn):
    # state.py's Python MM.zone_of_pfn before it was compiled: the section's zone, else
    # the first zone over the section's nodes (in order) whose span holds the pfn
    nr = pfn >> mm.section_shift
    if mm.section_zone[nr] is not None:
        return mm.section_zone[nr]
    sec = mm.sections[nr]
    if sec is None:
        return None
    for nid in sec.nids:
        for z in mm.nodes[nid].zones:
            if z.spanned_pages and z.zone_start_pfn <= pfn < z.zone_start_pfn + z.spanned_pages:
                return z
    return None


def _pfn_to_nid_ref(mm, pfn):
    sec = mm.sections[pfn >> mm.section_shift] if 0 <= pfn < mm.max_section_pfn else None
    if sec is None:
        return -1
    if len(sec.nids) > 1:
        z = _zone_of_pfn_ref(mm, pfn)
        if z is not None:
            return z.nid
    return sec.nid


def _assert_zone_and_nid_match_the_reference(mm):
    # every pfn of the sections no single zone holds, and a stride over the rest
    shared = [nr for nr, z in enumerate(mm.section_zone) if z is None]
    pfns = [p for nr in shared for p in range(nr << mm.section_shift, (nr + 1) << mm.section_shift)]
    pfns += range(0, mm.max_section_pfn, 997)
    for p in pfns:
        assert mm.zone_of_pfn(p) is _zone_of_pfn_ref(mm, p), p
        assert mm.pfn_to_nid(p) == _pfn_to_nid_ref(mm, p), p
    for p in (-1, mm.max_section_pfn, mm.max_section_pfn + 12345):
        assert mm.zone_of_pfn(p) is None and mm.pfn_to_nid(p) == -1


@pytest.mark.parametrize("kw", [dict(mem="256M"), dict(mem="1G", nodes=3),
                                dict(mem="2G", cmdline="numa=fake=3")])
def test_zone_of_pfn_is_the_python_scan_on_shared_sections(kw):
    """Section 0 holds DMA and DMA32; 3 nodes on 1G and fake nodes share sections."""
    m = pextlab.boot(seed=1, **kw)
    assert any(z is None and s is not None for z, s in zip(m.mm.section_zone, m.mm.sections))
    _assert_zone_and_nid_match_the_reference(m.mm)


def test_zone_of_pfn_follows_hotplug_resizes():
    """Zones grow and shrink as a block is onlined, offlined and onlined elsewhere: the
    compiled lookup reads the spans live, so it answers as the Python scan at every step."""
    m = pextlab.boot(mem="1G", maxmem="2G", seed=1)
    (block,) = m.hot_add("128M")
    _assert_zone_and_nid_match_the_reference(m.mm)
    assert m.online(block, "online_movable").ok
    _assert_zone_and_nid_match_the_reference(m.mm)
    assert m.offline(block).ok
    _assert_zone_and_nid_match_the_reference(m.mm)
    assert m.online(block, "online_kernel").ok
    _assert_zone_and_nid_match_the_reference(m.mm)


def test_lru_add_and_del_keep_one_list_per_node():
    """vmscan.lru_add files a block under page_to_nid's node, newest last; lru_del takes
    it off that list, or off whichever list holds it, and ignores a pfn on none."""
    m = pextlab.boot(mem="1G", nodes=2, seed=1)
    mm = m.mm
    gfp = mm.gfp("GFP_HIGHUSER_MOVABLE")
    pfns = [page_alloc.alloc_pages(mm, gfp, 0, nid) for nid in (0, 1, 0, 1)]
    holder = object()
    for p in pfns:
        vmscan.lru_add(mm, p, 0, holder)
    assert {n: list(lru) for n, lru in mm.lru.items()} == {0: pfns[0::2], 1: pfns[1::2]}
    assert mm.lru[0][pfns[0]] == (0, holder)
    vmscan.lru_del(mm, pfns[2])
    assert list(mm.lru[0]) == [pfns[0]]
    mm.lru[0][pfns[3]] = mm.lru[1].pop(pfns[3])      # on another node's list than its own
    vmscan.lru_del(mm, pfns[3])
    vmscan.lru_del(mm, pfns[3])                      # on no list: nothing to do
    assert {n: list(lru) for n, lru in mm.lru.items()} == {0: [pfns[0]], 1: [pfns[1]]}


def test_a_snapshot_looks_zones_up_in_its_own_nodes():
    """The copy's geometry holds the copy's node dict: its page_zone() answers the
    copy's zones, the same ones by node and index."""
    m = pextlab.boot(mem="1G", nodes=3, seed=1)
    mm, cm = m.mm, m.snapshot("s").machine.mm
    assert cm.geometry.nodes is cm.nodes and cm.nodes is not mm.nodes
    _assert_zone_and_nid_match_the_reference(cm)
    shared = [nr for nr, z in enumerate(cm.section_zone) if z is None and cm.sections[nr] is not None]
    pfns = [p for nr in shared for p in range(nr << cm.section_shift, (nr + 1) << cm.section_shift, 97)
            if mm.zone_of_pfn(p) is not None]
    assert pfns
    for p in pfns:
        z, cz = mm.zone_of_pfn(p), cm.zone_of_pfn(p)
        assert cz is cm.nodes[z.nid].zones[z.idx] and cz is not z
