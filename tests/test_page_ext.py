"""The page_ext core (mm/page_ext.c): tables, vmalloc fallback, the hotplug notifier."""
import pextlab
from pextlab.kernel import page_ext
from pextlab.kernel.page_ext import MEM_CANCEL_ONLINE, MEM_GOING_ONLINE, MEM_OFFLINE, ENOMEM


def _sec_pfn(m, nr):
    return nr << m.mm.section_shift


def test_tables_per_present_section_from_the_buddy_allocator():
    m = pextlab.boot(mem="1G", cmdline="page_owner=on")
    pe = m.df_page_ext()
    assert list(pe.section) == list(range(8))
    assert (pe.bytes == 72 * 32768).all() and (pe.pages == 576).all()
    assert (pe.via == "pages").all()
    # the table's own pages are allocated memory of the table's node
    for t in m.mm.page_ext.tables.values():
        assert m.mm.page_ext.lookup_page_ext(t.table_pfn) is not None
    assert m.page_ext_bytes == pe.bytes.sum() == 18874368


def test_vmalloc_fallback(monkeypatch):
    m = pextlab.boot(mem="1G", cmdline="page_owner=on")
    pe = m.mm.page_ext
    start = _sec_pfn(m, 3)
    assert pe.page_ext_callback(MEM_OFFLINE, start, 32768) == 0
    assert m.mm.sections[3].page_ext is None
    assert pe.lookup_page_ext(start + 5) is None
    monkeypatch.setattr(page_ext, "alloc_pages_exact_nid", lambda *a: -1)
    assert pe.page_ext_callback(MEM_GOING_ONLINE, start, 32768) == 0
    t = m.mm.sections[3].page_ext
    assert t.via == "vmalloc" and len(t.vmalloc_pfns) == 576
    assert pe.total_usage == 8 * 72 * 32768
    before = m.mm.nodes[0].zones[1].free_pages
    pe.page_ext_callback(MEM_OFFLINE, start, 32768)
    assert m.mm.nodes[0].zones[1].free_pages == before + 576


def test_going_online_failure_rolls_back_every_section_of_the_range():
    m = pextlab.boot(mem="1G", cmdline="page_owner=on")
    pe = m.mm.page_ext
    start = _sec_pfn(m, 2)
    pe.page_ext_callback(MEM_OFFLINE, start, 2 * 32768)          # sections 2 and 3
    usage = pe.total_usage
    calls = []
    pe.fail_alloc = lambda nid, sec: (calls.append(sec) or sec == 3)
    assert pe.page_ext_callback(MEM_GOING_ONLINE, start, 2 * 32768) == -ENOMEM
    assert calls == [2, 3]
    assert m.mm.sections[2].page_ext is None and m.mm.sections[3].page_ext is None
    assert pe.total_usage == usage
    pe.fail_alloc = None
    assert pe.page_ext_callback(MEM_GOING_ONLINE, start, 2 * 32768) == 0
    assert pe.total_usage == usage + 2 * 72 * 32768
    assert pe.page_ext_callback(MEM_CANCEL_ONLINE, start, 2 * 32768) == 0
    assert pe.total_usage == usage


def test_interleaved_nodes_get_their_own_sections():
    m = pextlab.boot(mem="1G", nodes=2, node_pattern=[0, 1, 0, 1], cmdline="page_owner=on")
    pe = m.df_page_ext()
    secs = m.df_sections().set_index("section")
    assert (pe.node.values == secs.loc[pe.section, "node"].values).all()
    assert set(pe.node) == {0, 1}
