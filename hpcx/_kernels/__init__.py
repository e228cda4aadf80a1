"""Compiled Cython kernels, built by setup.py from the top-level ``kernels/`` sources.

``EXPECTED`` lists the kernels a complete build provides; ``hpcx info`` reports
which of them are importable.
"""

import importlib

EXPECTED = ("keldysh",)


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
