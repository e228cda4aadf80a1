"""Every compiled kernel has a NumPy twin with the same public functions, and load() selects between them."""

import importlib
import inspect

import pytest

from hpcx import _kernels

from helpers import require_kernel


def _public(module):
    return {name for name, obj in vars(module).items()
            if callable(obj) and not name.startswith("_") and not inspect.isclass(obj)
            and getattr(obj, "__module__", module.__name__) == module.__name__}


@pytest.mark.parametrize("name", _kernels.EXPECTED)
def test_every_kernel_has_a_numpy_twin_with_its_functions(name):
    compiled = require_kernel(name)
    twin = _kernels.twin(name)
    missing = {f for f in _public(compiled) if not callable(getattr(twin, f, None))}
    assert not missing, f"hpcx/_kernels/reference/{name}.py lacks {sorted(missing)}"


@pytest.mark.parametrize("name", _kernels.EXPECTED)
def test_load_selects_the_backend(name, monkeypatch):
    require_kernel(name)
    assert _kernels.load(name) is importlib.import_module(f"hpcx._kernels.{name}")
    monkeypatch.setenv(_kernels.BACKEND_VARIABLE, "reference")
    assert _kernels.load(name) is _kernels.twin(name)
