"""Compiled Cython kernels, built by setup.py from the top-level ``kernels/`` sources.

``EXPECTED`` lists the kernels a complete build provides: one per
``kernels/*.pyx`` in a source checkout (the usual, editable install), else the
compiled modules found next to this file.  ``hpcx info`` reports which of them
are importable.
"""

import importlib
import importlib.machinery
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_SOURCES = _HERE.parents[1] / "kernels"


def _expected():
    if _SOURCES.is_dir():
        return tuple(sorted(p.stem for p in _SOURCES.glob("*.pyx")))
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return tuple(sorted({p.name.split(".")[0] for p in _HERE.iterdir() if p.name.endswith(suffixes)}))


EXPECTED = _expected()


def available():
    """{kernel name: True if importable, else the import error text}."""
    status = {}
    for name in EXPECTED:
        try:
            importlib.import_module(f"{__name__}.{name}")
            status[name] = True
        except ImportError as exc:
            status[name] = str(exc)
    return status
