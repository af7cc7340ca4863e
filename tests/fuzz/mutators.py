"""Seeded mutators over kernel text: each takes ``(bytes, random.Random)`` and returns bytes.

They reproduce the damage a capture can suffer or a hostile file can carry:
truncation, digits turned into letters, numbers no kernel prints (huge,
negative, just past a kernel bound), binary garbage, CRLF line ends, lines
deleted, duplicated or swapped, a stack of 20,000 frames.  :func:`encode`
then stores the text plain or gzipped, whole, cut short or corrupted.
"""
from __future__ import annotations

import gzip
import random
import re

__all__ = ["MUTATORS", "mutate", "encode"]

_NUMBER = re.compile(rb"(?<![0-9A-Za-z_])(?:0x[0-9a-fA-F]+|-?[0-9]+)")

#: Numbers worth trying: type limits, kernel bounds and their neighbours
#: (orders 10/18/19, pids 4194303/4194304, nodes 1023/1024, 2**52 pfns, 2**63, 2**64, ...).
_EDGES = [b"0", b"-1", b"1", b"10", b"11", b"18", b"19", b"63", b"64", b"300", b"1023", b"1024",
          b"65535", b"100000", b"4194303", b"4194304", b"2147483647", b"2147483648", b"4294967295",
          b"4294967296", b"4503599627370495", b"4503599627370496", b"9223372036854775807",
          b"9223372036854775808", b"18446744073709551615", b"18446744073709551616",
          b"1099511627776", b"99999", b"0x0", b"0xffffffffffffffff", b"0x10000000000000000",
          b"-9223372036854775808", b"00000000000000000000000000001"]


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[:rng.randrange(len(data) + 1)]


def digits_to_letters(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    idx = [i for i, c in enumerate(b) if 48 <= c <= 57]
    for i in rng.sample(idx, min(len(idx), rng.randint(1, 4))):
        b[i] = rng.choice(b"aBxZ-_. ")
    return bytes(b)


def huge_number(data: bytes, rng: random.Random) -> bytes:
    spans = [m.span() for m in _NUMBER.finditer(data)]
    if not spans:
        return data
    for _ in range(rng.randint(1, 3)):
        a, b = rng.choice(spans)
        r = rng.random()
        if r < 0.6:
            new = rng.choice(_EDGES)
        elif r < 0.8:
            new = str(rng.randrange(10 ** rng.randint(1, 40))).encode()
        else:
            new = b"9" * rng.choice([25, 300, 5000])
        data = data[:a] + new + data[b:]
        spans = [m.span() for m in _NUMBER.finditer(data)]
        if not spans:
            break
    return data


def garbage(data: bytes, rng: random.Random) -> bytes:
    junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    at = rng.randrange(len(data) + 1)
    return data[:at] + junk + data[at:]


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b)


def crlf(data: bytes, rng: random.Random) -> bytes:
    return data.replace(b"\n", b"\r\n")


def delete_lines(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    for _ in range(rng.randint(1, 3)):
        if len(lines) > 1:
            del lines[rng.randrange(len(lines))]
    return b"\n".join(lines)


def duplicate_lines(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
    return b"\n".join(lines)


def swap_lines(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return b"\n".join(lines)


def deep_stack(data: bytes, rng: random.Random) -> bytes:
    """One stack line repeated 20,000 times (page_owner and show_stacks)."""
    lines = _lines(data)
    frames = [i for i, ln in enumerate(lines) if ln.startswith(b" ") and ln.strip()]
    if not frames:
        return data
    i = rng.choice(frames)
    return b"\n".join(lines[:i] + [lines[i]] * 20_000 + lines[i + 1:])


def blank_out(data: bytes, rng: random.Random) -> bytes:
    return rng.choice([b"", b"\n", b"\n\n\n", b" \t \n"])


def insert_token(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + rng.choice([b"-", b"0x", b" ", b"\t", b"\n", b"\n\n", b",", b"(", b")", b"=", b":",
                                   b"\x00", b"\xff\xfe", b"%s", b"\\n"]) + data[at:]


MUTATORS = {f.__name__: f for f in (
    truncate, digits_to_letters, huge_number, garbage, flip_bytes, crlf, delete_lines,
    duplicate_lines, swap_lines, deep_stack, blank_out, insert_token)}
#: How often each mutator is picked (deep stacks and blanking are rare).
_WEIGHTS = {"truncate": 3, "digits_to_letters": 3, "huge_number": 6, "garbage": 2, "flip_bytes": 2,
            "crlf": 1, "delete_lines": 4, "duplicate_lines": 4, "swap_lines": 2, "deep_stack": 0.3,
            "blank_out": 0.3, "insert_token": 3}


def mutate(data: bytes, rng: random.Random) -> tuple[bytes, list[str]]:
    """``data`` after one to three mutators (sometimes none); returns it and their names."""
    names = []
    n = rng.choices([0, 1, 2, 3], weights=[1, 10, 5, 2])[0]
    for _ in range(n):
        name = rng.choices(list(_WEIGHTS), weights=list(_WEIGHTS.values()))[0]
        data = MUTATORS[name](data, rng)
        names.append(name)
    return data, names


def encode(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """The file's bytes: plain (mostly), gzipped, gzip cut short, or gzip with damaged bytes."""
    r = rng.random()
    if r < 0.8:
        return data, "plain"
    gz = gzip.compress(data, mtime=0)
    if r < 0.88:
        return gz, "gzip"
    if r < 0.96:
        return gz[:rng.randrange(len(gz))], "gzip-cut"
    return flip_bytes(gz, rng), "gzip-flipped"
