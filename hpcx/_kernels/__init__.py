"""Compiled Cython kernels and their NumPy twins.

Convention (one for every kernel): ``kernels/<stem>.pyx`` is built by setup.py
into ``hpcx._kernels.<stem>``; ``hpcx/_kernels/reference/<stem>.py`` is its
NumPy twin with the same public functions and arguments (slow, readable, the
definition the tests compare the kernel against).  Library code obtains a
kernel only through :func:`load`, which returns the compiled module, or the
twin when ``HPCX_KERNELS=reference`` is set (or when the compiled module is
missing and ``required`` is False).  ``tests/unit/test_kernels.py`` checks for
every kernel that the twin exists and defines every public function, and runs
both on the same inputs.

``EXPECTED`` lists the kernels a complete build provides: one per
``kernels/*.pyx`` in a source checkout (the usual, editable install), else the
compiled modules found next to this file.  ``hpcx info`` reports which of them
are importable.
"""

import importlib
import importlib.machinery
import logging
import os
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_SOURCES = _HERE.parents[1] / "kernels"
BACKEND_VARIABLE = "HPCX_KERNELS"


def _expected():
    if _SOURCES.is_dir():
        return tuple(sorted(p.stem for p in _SOURCES.glob("*.pyx")))
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return tuple(sorted({p.name.split(".")[0] for p in _HERE.iterdir() if p.name.endswith(suffixes)}))


EXPECTED = _expected()


def twin(name):
    """The NumPy twin ``hpcx._kernels.reference.<name>``."""
    return importlib.import_module(f"{__name__}.reference.{name}")


def load(name, required=False):
    """The kernel module ``name``: compiled, or its NumPy twin (see the module docstring).

    ``required=True`` raises ImportError when the compiled module is missing
    instead of falling back (for kernels whose twin is too slow for real runs).
    """
    if os.environ.get(BACKEND_VARIABLE, "compiled") == "reference":
        return twin(name)
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ImportError as exc:
        if required:
            raise ImportError(f"hpcx._kernels.{name} is not built (run `make setup`): {exc}") from None
        logging.getLogger("hpcx").warning("hpcx._kernels.%s not built; using its NumPy twin (slower)", name)
        return twin(name)


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
