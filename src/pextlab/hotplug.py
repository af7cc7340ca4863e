"""Memory hotplug as a user drives it on a real VM, over
:mod:`pextlab.kernel.memory_hotplug`: qemu's ``device_add pc-dimm``
(:func:`hot_add`), writes to ``/sys/devices/system/memory/memoryN/state``
(:func:`online`, :func:`offline`) and ``device_del`` (:func:`remove`).

Each function takes the kernel state ``mm``; :class:`pextlab.Machine` forwards its
verbs of the same names here.  Failures come back as values
(:class:`HotplugOutcome` with the kernel's errno), with the page_owner records
of the pages in the way.

>>> import pextlab
>>> m = pextlab.boot("1G", "page_owner=on", maxmem="4G")
>>> blocks = m.hot_add("512M"); blocks
[32, 33, 34, 35]
>>> m.online(blocks[0]).ok, m.online(blocks[1]).ok
(True, True)
>>> r = m.offline(blocks[0]); r.error, r.reason           # memory33's page_ext table is there
('EBUSY', 'failure to isolate range')
>>> r.blocking.top_frame.value_counts().head(1).to_dict()
{'init_section_page_ext': 576}
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .errors import PextlabError
from .frames.sim import df_page_owner
from .kernel import memory_hotplug as mhp
from .kernel.layout import parse_size
from .kernel.profiles import PAGE_SHIFT
from .schema import empty

__all__ = ["HotplugOutcome", "hot_add", "online", "offline", "remove", "valid_zones",
           "memory_devices"]


@dataclass
class HotplugOutcome:
    """What an online/offline/remove request returned.

    ok : bool
    error : str or None      -- "EBUSY", "EINVAL", "ENOMEM", "EINTR" (None when ok)
    reason : str or None     -- the kernel's pr_debug reason, e.g. "failure to isolate range",
                                "memory holes" (None when the kernel gives none)
    blocking : DataFrame     -- page_owner rows (df_page_owner schema) of the allocations in
                                the way, when page_owner is on; else a frame with a pfn column
    blocking_pfns : list     -- every pfn in the way (reserved pages included)
    block, zone, migrated (base pages moved away), messages (pr_debug lines)
    """
    ok: bool
    error: str | None
    reason: str | None
    blocking: pd.DataFrame
    blocking_pfns: list = field(default_factory=list)
    block: int | None = None
    zone: str | None = None
    migrated: int = 0
    messages: list = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self):
        if self.ok:
            return f"<HotplugOutcome ok memory{self.block} {self.zone or ''} migrated={self.migrated}>"
        return (f"<HotplugOutcome {self.error} memory{self.block} reason={self.reason!r} "
                f"blocking={len(self.blocking_pfns)} pfn(s)>")


def _outcome(mm, r: mhp.HotplugResult) -> HotplugOutcome:
    pfns = [int(p) for p in r.blocking]
    if mm.page_owner is not None and pfns:
        po = df_page_owner(mm, min(pfns), max(pfns) + 1)
        blocking = po[po["pfn"].isin(pfns)].reset_index(drop=True)
    elif mm.page_owner is not None:
        blocking = empty("page_owner")
    else:
        blocking = pd.DataFrame({"pfn": pd.Series(pfns, dtype="int64")})
    return HotplugOutcome(r.ok, r.error, r.reason, blocking, pfns, r.block, r.zone,
                          r.migrated, list(r.messages))


def hot_add(mm, size, nid: int = 0, addr=None, online: str | None = None) -> list[int]:
    """Plug a DIMM of ``size`` ("512M", bytes) into the maxmem window; return its block ids.

    ``addr``: physical address (default: the lowest free, block-aligned spot of the
    window, as qemu assigns DIMM addresses).  ``online``: override
    ``memhp_default_state=`` ("offline", "online", "online_kernel", "online_movable").
    """
    nbytes = parse_size(size)
    nr = nbytes >> PAGE_SHIFT
    lay = mm.layout
    if not lay.hotplug_end_pfn:
        raise PextlabError("this machine has no hotplug window: boot it with maxmem= "
                           "(e.g. pextlab.boot('1G', maxmem='4G'))")
    if addr is None:
        bpages = mm.memory_block_size >> PAGE_SHIFT
        pfn = -(-lay.hotplug_base_pfn // bpages) * bpages
        while pfn + nr <= lay.hotplug_end_pfn:
            busy = [p for p in range(pfn, pfn + nr, mm.pages_per_section)
                    if mm.sections[p >> mm.section_shift] is not None
                    and mm.sections[p >> mm.section_shift].present]
            if not busy:
                break
            pfn = ((busy[-1] + mm.pages_per_section + bpages - 1) // bpages) * bpages
        else:
            raise PextlabError(f"no room for {size} in the hotplug window "
                               f"[{lay.hotplug_base_pfn << PAGE_SHIFT:#x}-"
                               f"{lay.hotplug_end_pfn << PAGE_SHIFT:#x})")
    else:
        pfn = parse_size(addr) >> PAGE_SHIFT
    return mhp.add_memory(mm, pfn, nr, nid, online=online)


def online(mm, block: int, how: str = "online") -> HotplugOutcome:
    """``echo <how> > /sys/devices/system/memory/memory<block>/state``
    (how: "online", "online_kernel", "online_movable")."""
    return _outcome(mm, mhp.online_pages(mm, int(block), mhp.online_type_from_str(how)))


def offline(mm, block: int) -> HotplugOutcome:
    """``echo offline > /sys/devices/system/memory/memory<block>/state``."""
    return _outcome(mm, mhp.offline_pages(mm, int(block)))


def remove(mm, device, eject: bool = True) -> HotplugOutcome:
    """Unplug a hot-added DIMM (its id, e.g. "dimm0", or any of its blocks).

    ``eject=True`` is qemu ``device_del``: the ACPI eject offlines the online blocks
    first and fails with EBUSY ("memory memoryN: Offline failed.") if one stays busy.
    ``eject=False`` is the kernel's remove_memory(): EBUSY unless all blocks are offline.
    """
    r = mhp.eject_memory_device(mm, device) if eject else mhp.remove_memory(mm, device)
    return _outcome(mm, r)


def valid_zones(mm, block: int) -> str:
    """/sys/devices/system/memory/memory<block>/valid_zones."""
    return mhp.valid_zones(mm, int(block))


def memory_devices(mm) -> dict:
    """Hot-added DIMMs: id -> start_pfn, nr_pages, nid, blocks."""
    return {k: {kk: v for kk, v in d.items() if kk != "pages"}
            for k, d in mm.hotplug_devices.items()}
