"""Builds pextlab's compiled core -- every ``src/pextlab/**/*.pyx`` -- with Cython.

Everything else about the package is in pyproject.toml.  Cython is a build-time
requirement only ([build-system] requires); the extensions need a C compiler and the
Python headers, which `make setup` checks for (docs/compiled-core.md says why Cython).
"""
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

SRC = Path(__file__).resolve().parent / "src"
CORE = sorted(p.relative_to(SRC.parent) for p in SRC.rglob("*.pyx"))

setup(ext_modules=cythonize(
    [Extension(".".join(p.relative_to("src").with_suffix("").parts), [str(p)],
               extra_compile_args=["-O2"]) for p in CORE],
    compiler_directives={"language_level": 3}, quiet=True))
