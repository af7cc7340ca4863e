# cython: language_level=3, boundscheck=False, wraparound=False, binding=True
"""What the compiled core reads on every step and that never changes after boot:
the memory map's geometry, as C fields (docs/compiled-core.md), and page_zone() /
page_to_nid() over it (``MM.zone_of_pfn`` and ``MM.pfn_to_nid`` call them).

``MM.geometry`` is made once, in ``MM.__init__``.  The section lists and the node
dict are the MM's own (filled and emptied in place by boot and hotplug, never
replaced), so reading them here sees every change; the numbers are fixed by the
profile and the layout.  A copy of the MM (a snapshot) copies its geometry with it,
pointing at the copy's lists.
"""
from ._mmzone cimport MemSection, Zone

__all__ = ["Geometry"]


cdef class Geometry:
    """The MM's section lists and constants, for C code to read without a dict lookup
    per name."""

    def __init__(self, mm):
        self.sections = mm.sections
        self.section_zone = mm.section_zone
        self.nodes = mm.nodes
        self.shift = mm.section_shift
        self.mask = mm.section_mask
        self.max_section_pfn = mm.max_section_pfn
        self.nr_orders = mm.nr_orders
        self.max_order = mm.profile.max_page_order
        self.pageblock_order = mm.pageblock_order
        self.mt_cma = mm.mt_cma

    cdef object zone_of(self, long pfn):
        # state.py MM.zone_of_pfn (page_zone()) of a pfn inside the memory map: the
        # section's zone, else the first zone, over the section's nodes in order and
        # each node's zones in order, whose span holds the pfn.  Spans of interleaved
        # nodes can overlap, so they are scanned in that order, not bisected; they are
        # read live, so hotplug's zone resizes need no invalidation.
        cdef Py_ssize_t nr = pfn >> self.shift
        z = self.section_zone[nr]
        if z is not None:
            return z
        sec = self.sections[nr]
        if sec is None:
            return None
        cdef Zone zone
        for nid in (<MemSection?>sec).nids:
            for z in <list?>self.nodes[nid].zones:
                zone = <Zone?>z
                if (zone.spanned_pages and zone.zone_start_pfn <= pfn
                        and pfn < zone.zone_start_pfn + zone.spanned_pages):
                    return zone
        return None

    cdef long nid_of(self, long pfn) except? -2:
        # state.py MM.pfn_to_nid (page_to_nid()): the section's node, or for a section
        # holding memory of several nodes the node of the zone spanning the pfn; -1
        # outside the memory map
        if pfn < 0 or pfn >= self.max_section_pfn:
            return -1
        sec = self.sections[pfn >> self.shift]
        if sec is None:
            return -1
        cdef MemSection s = <MemSection?>sec
        if len(s.nids) > 1:
            z = self.zone_of(pfn)
            if z is not None:
                return (<Zone>z).nid
        return s.nid

    def zone_of_pfn(self, long pfn):
        """page_zone(): the zone of ``pfn`` (None outside the memory map or any zone)."""
        if pfn < 0 or pfn >= self.max_section_pfn:
            return None
        return self.zone_of(pfn)

    def pfn_to_nid(self, long pfn):
        """page_to_nid(): the node of ``pfn``; -1 outside the memory map."""
        return self.nid_of(pfn)

    def __reduce__(self):
        return (_rebuild, (self.sections, self.section_zone, self.nodes, self.shift, self.mask,
                           self.max_section_pfn, self.nr_orders, self.max_order,
                           self.pageblock_order, self.mt_cma))


def _rebuild(sections, section_zone, nodes, shift, mask, max_section_pfn, nr_orders, max_order,
             pageblock_order, mt_cma):
    # copy.deepcopy / pickle: the same numbers, the (copied) lists
    cdef Geometry g = Geometry.__new__(Geometry)
    g.sections, g.section_zone, g.nodes = sections, section_zone, nodes
    g.shift, g.mask, g.max_section_pfn = shift, mask, max_section_pfn
    g.nr_orders, g.max_order, g.pageblock_order, g.mt_cma = (nr_orders, max_order,
                                                             pageblock_order, mt_cma)
    return g
