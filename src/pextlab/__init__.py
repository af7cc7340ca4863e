"""pextlab: a laboratory for Linux physical-memory bookkeeping.

Simulate page_ext, page_owner and the buddy allocator faithfully, or read a real
kernel's files, and get the same pandas DataFrames either way.

>>> import pextlab
>>> m = pextlab.boot(mem="1G", cmdline="page_owner=on")
>>> m.df_zones()[["zone", "managed"]].head(2)          # doctest: +SKIP
"""
from .capture import Capture, read_capture
from .errors import KernelPanic, LayoutError, ParseError, PextlabError, ProfileError
from .kernel.layout import Layout, layout_from_spec
from .kernel.profiles import PROFILES, get_profile
from .machine import Machine, boot
from .replay import replay
from . import workloads
from .schema import SCHEMAS

__version__ = "0.1.0"
__all__ = ["boot", "Machine", "read_capture", "replay", "workloads", "Capture", "Layout", "layout_from_spec", "PROFILES",
           "get_profile", "SCHEMAS", "PextlabError", "ParseError", "LayoutError", "ProfileError",
           "KernelPanic"]
