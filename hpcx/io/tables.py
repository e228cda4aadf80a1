"""Reading the inputs other runs provide: moiré bands of a ``moire`` run, tables of a ``scattering`` run.

Plain arrays and numbers come back (dicts); the library builds its objects from
them.  Every problem is an :class:`hpcx.errors.InputError` naming the file.
Layouts: docs/output.md (``## moire``, ``## scattering``).
"""

from __future__ import annotations

import tomllib

import numpy as np

from ..errors import InputError
from . import RunFile

__all__ = ["moire_bands_meta", "read_moire_bands", "scattering_tables_meta", "read_scattering_tables"]

_BANDS = ("grid_Q", "grid_energy", "grid_vectors", "grid_velocity")
_TABLES = ("energy", "velocity", "total_rate", "indptr", "indices", "cumulative")


def _require(f, path, names):
    for name in names:
        if name not in f.file:
            raise InputError(f"{path}: has no dataset '{name}'")


def moire_bands_meta(path):
    """(moiré system name, twist angle deg, n_Q, n_bands, energy span meV) of a finished ``moire`` run file."""
    with RunFile(path, expect_workflow="moire") as f:
        _require(f, path, [f"results/bands/{n}" for n in _BANDS])
        system = f.file["results"].attrs.get("system")
        if system is None:
            raise InputError(f"{path}: /results has no 'system' attribute")
        energy = f.read("results/bands/grid_energy")[0]
        theta = float(f.read("results/geometry/theta_deg")[0])
    return str(system), theta, int(energy.shape[0]), int(energy.shape[1]), float(np.ptp(energy))


def read_moire_bands(path):
    """Bands of a ``moire`` run file: dict with Q [n_Q, 2] 1/nm, energy [n_Q, n_b] meV, vectors
    [n_Q, n_b, n_g], velocity [n_Q, n_b, 2] nm/ps, s [n_g, 2], basis [2, 2] 1/nm, cell_area nm^2,
    theta_deg, system (name)."""
    with RunFile(path, expect_workflow="moire") as f:
        read = lambda name: f.read(name)[0]  # noqa: E731
        return dict(Q=read("results/bands/grid_Q"), energy=read("results/bands/grid_energy"),
                    vectors=read("results/bands/grid_vectors"), velocity=read("results/bands/grid_velocity"),
                    s=read("results/basis/s"), basis=read("results/geometry/reciprocal_vectors")[:2],
                    cell_area=float(read("results/geometry/cell_area")),
                    theta_deg=float(read("results/geometry/theta_deg")),
                    system=str(f.file["results"].attrs["system"]))


def scattering_tables_meta(path):
    """(table temperature K, twist angle deg or NaN, model, number of states, energy span meV) of a
    finished ``scattering`` run file (NaN twist: multi-valley, or bands from a ``moire`` file)."""
    with RunFile(path, expect_workflow="scattering") as f:
        _require(f, path, [f"results/rates/{n}" for n in _TABLES])
        T = float(f.file["results/rates"].attrs["temperature_K"])
        model = str(f.file["results"].attrs.get("model", "moire"))
        energy = f.read("results/rates/energy")[0]
        theta = float("nan")
        try:
            s = tomllib.loads(f.config_text).get("scattering", {})
            if model == "moire" and not s.get("input"):
                theta = float(s.get("twist_deg", 3.0))
        except tomllib.TOMLDecodeError:
            pass
    return T, theta, model, len(energy), float(np.ptp(energy)) if len(energy) else 0.0


def read_scattering_tables(path):
    """Tables of a ``scattering`` run file: dict with energy [n] meV, velocity [n, 2] nm/ps,
    total_rate [n] 1/ps, indptr [n + 1], indices [nnz], cumulative [nnz], group [n] (band or
    valley), group_names, weight [n], k [n, 2] 1/nm (Q or valley-local k)."""
    with RunFile(path, expect_workflow="scattering") as f:
        _require(f, path, [f"results/rates/{n}" for n in _TABLES])
        r = lambda name: f.read(f"results/rates/{name}")[0]  # noqa: E731
        out = {name: r(name) for name in _TABLES}
        n = len(out["energy"])
        out["weight"] = r("weight") if "results/rates/weight" in f.file else np.ones(n)
        if "results/rates/band" in f.file:
            out["group"] = r("band").astype(np.int64)
            out["group_names"] = tuple(f"band{b}" for b in range(int(out["group"].max()) + 1))
            out["k"] = r("Q")
        else:
            out["group"] = r("valley").astype(np.int64)
            out["group_names"] = tuple(x.decode() if isinstance(x, bytes) else str(x)
                                       for x in f.file["results/rates/valley"].attrs["names"])
            out["k"] = r("k")
    return out
