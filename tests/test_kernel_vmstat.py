"""mm/vmstat.c fragmentation maths (kernel/vmstat.py): the kernel's rules, scalar and vectorised."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pextlab.kernel.vmstat import (
    ContigPageInfo, __fragmentation_index, extfrag_for_order, extfrag_show_print,
    fill_contig_page_info, fragmentation_index, unusable_free_index, unusable_index,
    unusable_show_print,
)
from pextlab.procfs.buddyinfo import read_buddyinfo
from pextlab.procfs.extfrag import read_extfrag

from conftest import REAL


def test_fill_contig_page_info_sums_as_the_kernel():
    # 3 single pages, 1 order-1 block, 2 order-2 blocks: 3 + 2 + 8 pages
    assert fill_contig_page_info([3, 1, 2], 0) == ContigPageInfo(13, 6, 13)
    assert fill_contig_page_info([3, 1, 2], 1) == ContigPageInfo(13, 6, 1 + 4)
    assert fill_contig_page_info([3, 1, 2], 2) == ContigPageInfo(13, 6, 2)


def test_indexes_by_hand():
    nr = [4, 0, 0]                                  # four free single pages
    assert unusable_index(nr, 0) == 0 and unusable_index(nr, 1) == 1000
    # 1000 - (1000 + 4 * 1000 / 2) / 4 = 250 ; order 2: 1000 - (1000 + 1000) / 4 = 500
    assert [fragmentation_index(nr, o) for o in range(3)] == [-1000, 250, 500]
    assert fragmentation_index([0, 0, 0], 1) == 0   # nothing free: lack of memory
    assert unusable_index([0, 0, 0], 1) == 1000     # "all free memory is unusable"
    assert extfrag_for_order([2, 1], 1) == 50       # 2 of 4 free pages below order 1
    assert extfrag_for_order([0, 0], 1) == 0
    info = fill_contig_page_info(nr, 1)
    assert unusable_free_index(1, info) == 1000 and __fragmentation_index(1, info, 2) == 250


def test_order_above_max_page_order_is_zero():
    """The case where the two copies this module replaces disagreed.

    mm/vmstat.c __fragmentation_index starts with
    ``if (WARN_ON_ONCE(order > MAX_PAGE_ORDER)) return 0;`` (v6.12; v3.19:
    ``order >= MAX_ORDER``).  procfs/extfrag.py kept that rule
    (``order >= len(nr_free)``); kernel/compaction.py had dropped it and, for
    four free pages and order 11 on an 11-order zone, returned
    1000 - (1000 + 4000 // 2048) // 4 = 750.  The kernel's rule is kept.
    """
    nr = [4] + [0] * 10                  # NR_PAGE_ORDERS = 11: MAX_PAGE_ORDER = 10
    assert fragmentation_index(nr, 10) == 1000 - (1000 + 4000 // 1024) // 4
    assert fragmentation_index(nr, 11) == 0
    assert __fragmentation_index(11, fill_contig_page_info(nr, 11), 10) == 0
    assert __fragmentation_index(11, fill_contig_page_info(nr, 11), 11) == 750


counts = st.lists(st.integers(0, 1 << 20), min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(counts, min_size=1, max_size=4).filter(lambda z: len({len(r) for r in z}) == 1))
def test_vectorised_equals_scalar(zones):
    u, f = unusable_show_print(zones), extfrag_show_print(zones)
    assert u.shape == f.shape == (len(zones), len(zones[0])) and u.dtype == f.dtype == np.int64
    for z, nr in enumerate(zones):
        assert u[z].tolist() == [unusable_index(nr, o) for o in range(len(nr))]
        assert f[z].tolist() == [fragmentation_index(nr, o) for o in range(len(nr))]
        assert unusable_show_print(nr).tolist() == u[z].tolist()


def test_vectorised_is_exact_for_huge_counts():
    # u64 counters past what int64 arithmetic (free_pages * 1000) can hold
    nr = [(1 << 62) + 3, 0, 1 << 60]
    assert unusable_show_print(nr).tolist() == [unusable_index(nr, o) for o in range(3)]
    assert extfrag_show_print(nr).tolist() == [fragmentation_index(nr, o) for o in range(3)]


def test_empty_and_malformed_shapes():
    assert unusable_show_print(np.zeros((0, 11), dtype=np.int64)).shape == (0, 11)
    with pytest.raises(ValueError):
        unusable_show_print([])


@pytest.mark.parametrize("name", ["a-512M", "b-1G", "f-numa2", "g-1G-guard", "h-1G-cma64M", "i-hotplug"])
def test_real_kernel_files_from_buddyinfo(name):
    """A quiet zone's extfrag files are what the maths gives for its buddyinfo line.

    (Busy zones change between the reads of the three files.)
    """
    d = REAL / name
    bi = read_buddyinfo(d / "buddyinfo.txt")
    ef = read_extfrag(d / "unusable_index.txt", d / "extfrag_index.txt")
    dma = bi[bi.zone == "DMA"]
    assert len(dma)
    for node, sub in dma.groupby("node"):
        nr = sub.sort_values("order")["nr_free"].to_numpy()
        e = ef[(ef.node == node) & (ef.zone == "DMA")].sort_values("order")
        assert unusable_show_print(nr).tolist() == [round(v * 1000) for v in e["unusable_index"]]
        assert extfrag_show_print(nr).tolist() == [round(v * 1000) for v in e["extfrag_index"]]
