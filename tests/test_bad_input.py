"""Bad input gets a clear error naming what is wrong, or the kernel's own outcome."""
import pytest

import pextlab
from pextlab.errors import KernelPanic, LayoutError, PextlabError, ProfileError
from pextlab.kernel.boot import boot_kernel
from pextlab.kernel.layout import Layout, RamRange, layout_from_spec
from pextlab.kernel.profiles import get_profile


def test_unknown_profile():
    with pytest.raises(ProfileError, match="unknown kernel profile 'v9.99'.*v6.12"):
        pextlab.boot(mem="1G", profile="v9.99")


def test_order_above_max():
    m = pextlab.boot(mem="256M")
    with pytest.raises(PextlabError, match="order 11 .*MAX_PAGE_ORDER"):
        m.alloc_pages(order=11)


def test_unparsable_sizes_and_params():
    with pytest.raises(LayoutError, match="cannot parse size '1X'"):
        pextlab.boot(mem="1X")
    with pytest.raises(PextlabError, match="page_owner: invalid value 'maybe'"):
        pextlab.boot(mem="256M", cmdline="page_owner=maybe")
    with pytest.raises(PextlabError, match="unknown gfp flag 'GFP_NOPE'"):
        pextlab.boot(mem="256M").alloc_pages(0, "GFP_NOPE")


def test_impossible_layouts():
    with pytest.raises(LayoutError, match="too small"):
        pextlab.boot(mem="4M")
    with pytest.raises(LayoutError, match="nodes must be a positive integer"):
        pextlab.boot(mem="1G", nodes=0)
    with pytest.raises(LayoutError, match="overlap or are unsorted"):
        Layout(ram=(RamRange(0, 0x100, 0x9000), RamRange(0, 0x8000, 0x10000)))
    # (two nodes inside one 128 MiB section boot as the kernel does: tests/test_shapes.py)
    with pytest.raises(PextlabError, match="layout must be a pextlab Layout"):
        pextlab.boot(layout={"ram": []})


def test_unknown_params_reported_like_the_kernel():
    m = pextlab.boot(mem="256M", cmdline="page_owner=on scenario=x leaky=1 console=ttyS0")
    assert 'Unknown kernel command line parameters "scenario=x leaky=1", will be passed to user space.' in m.dmesg


def test_bad_guardpage_minorder():
    m = pextlab.boot(mem="256M", cmdline="debug_pagealloc=on debug_guardpage_minorder=9")
    assert "Bad debug_guardpage_minorder value" in m.dmesg
    m = pextlab.boot(mem="256M", cmdline="debug_pagealloc=on debug_guardpage_minorder=1")
    assert "Setting debug_guardpage_minorder to 1" in m.dmesg


@pytest.mark.parametrize("model", ["sparsemem", "flatmem"])
def test_page_ext_failure_at_boot_panics(model):
    lay = layout_from_spec("512M")
    with pytest.raises(KernelPanic, match="Out of memory") as ei:
        boot_kernel(lay, "page_owner=on", get_profile("v6.12"), model,
                    fail_page_ext=lambda nid, section: True)
    text = "page ext allocation failure" if model == "sparsemem" else "allocation of page_ext failed."
    assert text in ei.value.dmesg


def test_no_client_no_page_ext():
    m = pextlab.boot(mem="1G")
    assert m.page_ext_bytes == 0 and len(m.df_page_ext()) == 0
    assert "page_ext" not in m.dmesg.replace("page_owner is disabled", "")
    assert "page_owner is disabled" in m.dmesg


def test_allocation_failure_is_none_not_exception():
    m = pextlab.boot(mem="64M")
    got = [m.alloc_pages(10, "GFP_KERNEL") for _ in range(200)]
    assert None in got
    assert m.alloc_pages(10, "GFP_KERNEL") is None


def test_flatmem_padding_and_v319_size():
    m = pextlab.boot(mem="1G", cmdline="page_owner=on", profile="v3.19", memory_model="flatmem")
    pe = m.df_page_ext()
    assert len(pe) == 1 and pe.section.iloc[0] == -1 and pe.via.iloc[0] == "memblock"
    # node spans pfn 1..0x3ffe0: not MAX_ORDER aligned -> +1024 pages of padding, 104 B/page
    assert pe.bytes.iloc[0] == (0x3FFE0 - 1 + 1024) * 104
    assert f"allocated {(0x3FFE0 - 1 + 1024) * 104} bytes of page_ext" in m.dmesg


def test_ram_below_the_kernel_image_is_a_layout_error():
    """The x86-64 image is loaded at LOAD_PHYSICAL_ADDR (16 MiB) and runs to 36 MiB in
    the 6.12 build: 32 MiB of RAM cannot hold it (was an AttributeError deep in boot)."""
    with pytest.raises(pextlab.LayoutError, match="kernel image"):
        pextlab.boot("32M")
    assert pextlab.boot("40M").df_zones().query("present > 0")["managed"].sum() > 0
