"""A machine copies (``copy.deepcopy``) and pickles whole: the kernel profile is an
immutable description that copies as itself and pickles by name (a custom one by its
fields), and the page_ext clients' need()/init() are module-level functions.  The copy
then runs on exactly as the original does."""
from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

import pextlab
import pextlab.workloads as W
from pextlab.kernel.profiles import PROFILES, KernelProfile

FRAMES = ("df_buddyinfo", "df_zones", "df_page_owner", "df_pagetypeinfo")


def _same(a, b):
    for f in FRAMES:
        assert getattr(a, f)().equals(getattr(b, f)()), f


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
@pytest.mark.parametrize("kw", [
    dict(cmdline="page_owner=on"),
    dict(cmdline="page_owner=on debug_pagealloc=on"),
    dict(cmdline="page_owner=on page_poison=on", profile="v3.19"),
    dict(cmdline="page_owner=on", memory_model="flatmem"),
    dict(cmdline="page_owner=on trace_event=kmem:mm_page_alloc", nodes=2),
], ids=["v6.12", "guard", "v3.19-poison", "flatmem", "trace-2nodes"])
def test_a_machine_copies_whole_and_runs_on_alike(how, kw):
    m = pextlab.boot(mem="512M", seed=1, **kw)
    w = W.mix(W.anon("a", rate=20000, lifetime="100ms"), W.hog("h", pages=3000, ramp="1s"))
    m.run(w, duration="1s", record=True, seed=1)
    c = pickle.loads(pickle.dumps(m)) if how == "pickle" else copy.deepcopy(m)
    assert c.mm.profile is m.mm.profile         # a known profile is shared, by name
    _same(c, m)
    for x in (m, c):
        x.run(w, duration="1s", record=True, seed=2)
        x.alloc_pages(3, "GFP_KERNEL")
    _same(c, m)
    assert c.run_log.events_np().tobytes() == m.run_log.events_np().tobytes()


def test_profiles_copy_as_themselves_and_a_custom_one_pickles_by_its_fields():
    p = PROFILES["v6.12"]
    assert copy.copy(p) is p and copy.deepcopy(p) is p and pickle.loads(pickle.dumps(p)) is p
    custom = dataclasses.replace(p, name="v6.12-custom", stack_depth=8)
    back = pickle.loads(pickle.dumps(custom))
    assert isinstance(back, KernelProfile) and back is not custom
    assert back.name == "v6.12-custom" and back.stack_depth == 8
    assert dict(back.fallbacks) == dict(p.fallbacks) and dict(back.gfp_bits) == dict(p.gfp_bits)
    with pytest.raises(TypeError):              # its mappings are read-only again
        back.fallbacks[0] = ()


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_flatmem_section_windows_stay_windows_on_the_copied_node_table(how):
    # FLATMEM: the sections' page_ext are windows on the node's table; a copy whose
    # windows had arrays of their own let the node table go stale as the copy ran on
    import numpy as np
    m = pextlab.boot(mem="512M", cmdline="page_owner=on", memory_model="flatmem", seed=1)
    c = pickle.loads(pickle.dumps(m)) if how == "pickle" else copy.deepcopy(m)
    node = c.mm.page_ext.tables[("node", 0)]
    views = [s.page_ext for s in c.mm.sections if s is not None and s.page_ext is not None]
    assert views and all(v.table is node for v in views)
    for v in views:
        assert np.shares_memory(v.flags, node.flags) and np.shares_memory(v.owner, node.owner)
    pfn = c.alloc_pages(0, "GFP_KERNEL")
    nr = pfn >> c.mm.section_shift
    v = c.mm.sections[nr].page_ext
    assert node.owner[v.lo + (pfn & c.mm.section_mask)] == v.owner[pfn & c.mm.section_mask] >= 0
