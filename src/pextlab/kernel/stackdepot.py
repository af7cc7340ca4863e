"""Stack depot (lib/stackdepot.c): stacks stored once, referred to by handle.

A stack is a tuple of frame strings ``"symbol+0xoff/0xsize"`` (innermost
first, as page_owner prints them).  ``stack_depot_save`` returns the same
handle for the same frames; handle 0 means "no stack".  Stacks deeper than
the profile's limit are truncated, as ``stack_trace_save(entries, depth)`` does.
"""
from __future__ import annotations

__all__ = ["StackDepot"]


class StackDepot:
    def __init__(self, depth_limit: int = 16):
        self.depth_limit = depth_limit
        self._handles: dict[tuple, int] = {}
        self.stacks: list[tuple] = [()]       # index = handle; 0 = none

    def stack_depot_save(self, frames) -> int:
        frames = tuple(frames)[: self.depth_limit]
        h = self._handles.get(frames)
        if h is None:
            h = len(self.stacks)
            self._handles[frames] = h
            self.stacks.append(frames)
        return h

    def fetch(self, handle: int) -> tuple:
        return self.stacks[handle]

    def text(self, handle: int) -> str:
        return "\n".join(self.stacks[handle])

    def __len__(self) -> int:
        return len(self.stacks) - 1
