# cython: language_level=3, boundscheck=False, wraparound=False, binding=True
"""What the compiled core reads on every step and that never changes after boot:
the memory map's geometry, as C fields (docs/compiled-core.md).

``MM.geometry`` is made once, in ``MM.__init__``.  The section lists are the MM's
own (filled and emptied in place by boot and hotplug, never replaced), so reading
them here sees every change; the numbers are fixed by the profile and the layout.
A copy of the MM (a snapshot) copies its geometry with it, pointing at the copy's
lists.
"""
__all__ = ["Geometry"]


cdef class Geometry:
    """The MM's section lists and constants, for C code to read without a dict lookup
    per name."""

    def __init__(self, mm):
        self.sections = mm.sections
        self.section_zone = mm.section_zone
        self.shift = mm.section_shift
        self.mask = mm.section_mask
        self.max_section_pfn = mm.max_section_pfn
        self.nr_orders = mm.nr_orders
        self.max_order = mm.profile.max_page_order
        self.pageblock_order = mm.pageblock_order
        self.mt_cma = mm.mt_cma

    def __reduce__(self):
        return (_rebuild, (self.sections, self.section_zone, self.shift, self.mask,
                           self.max_section_pfn, self.nr_orders, self.max_order,
                           self.pageblock_order, self.mt_cma))


def _rebuild(sections, section_zone, shift, mask, max_section_pfn, nr_orders, max_order,
             pageblock_order, mt_cma):
    # copy.deepcopy / pickle: the same numbers, the (copied) lists
    cdef Geometry g = Geometry.__new__(Geometry)
    g.sections, g.section_zone = sections, section_zone
    g.shift, g.mask, g.max_section_pfn = shift, mask, max_section_pfn
    g.nr_orders, g.max_order, g.pageblock_order, g.mt_cma = (nr_orders, max_order,
                                                             pageblock_order, mt_cma)
    return g
