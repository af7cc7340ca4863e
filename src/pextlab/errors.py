"""Errors pextlab raises at its boundaries, each naming what is wrong."""
from __future__ import annotations

__all__ = ["PextlabError", "ParseError", "LayoutError", "ProfileError", "KernelPanic"]


class PextlabError(Exception):
    """Base class of every error pextlab raises on bad input."""


class ParseError(PextlabError, ValueError):
    """A kernel text file could not be parsed.

    Attributes: ``file`` (path or name), ``line`` (1-based line number, or None),
    ``expected`` (what the parser expected), ``got`` (the offending text, shortened).
    """

    def __init__(self, file, line, expected: str, got: str | None = None):
        self.file, self.line, self.expected = str(file), line, expected
        self.got = None if got is None else (got if len(got) <= 120 else got[:117] + "...")
        where = f"{self.file}:{line}" if line is not None else self.file
        msg = f"{where}: expected {expected}"
        if self.got is not None:
            msg += f", got {self.got!r}"
        super().__init__(msg)


class LayoutError(PextlabError, ValueError):
    """An impossible or unsupported memory layout."""


class ProfileError(PextlabError, ValueError):
    """An unknown kernel profile or an option the profile does not have."""


class KernelPanic(PextlabError, RuntimeError):
    """The simulated kernel panicked (e.g. page_ext allocation failed at boot).

    ``dmesg`` holds the log up to and including the panic message.
    """

    def __init__(self, message: str, dmesg: str = ""):
        self.dmesg = dmesg
        super().__init__(message)
