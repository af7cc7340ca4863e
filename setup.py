"""Builds pextlab's compiled core (src/pextlab/kernel/*.pyx) with Cython.

Everything else about the package is in pyproject.toml.  Cython is a build-time
requirement only ([build-system] requires); the extension needs a C compiler and the
Python headers, which `make setup` checks for (docs/compiled-core.md says why Cython).
"""
from Cython.Build import cythonize
from setuptools import Extension, setup

CORE = ["pextlab.kernel._buddy", "pextlab.kernel._fastpath", "pextlab.kernel._page_owner"]

setup(ext_modules=cythonize(
    [Extension(name, [f"src/{name.replace('.', '/')}.pyx"], extra_compile_args=["-O2"])
     for name in CORE],
    compiler_directives={"language_level": 3}, quiet=True))
