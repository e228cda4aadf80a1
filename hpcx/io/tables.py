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

__all__ = ["moire_bands_meta", "read_moire_bands", "scattering_tables_meta", "scattering_tables_layout",
           "read_scattering_tables"]

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


_DTYPES = {"energy": np.float64, "velocity": np.float64, "total_rate": np.float64, "indptr": np.int64,
           "indices": np.int64, "cumulative": np.float64, "group": np.int64, "weight": np.float64, "k": np.float64}


def band_names(band, n_states, path):
    """('band0', ...) of the moiré band index of every state (``band`` [n_states] ints); InputError
    naming ``path`` unless every index lies in 0 .. n_states - 1 (a damaged file must not make the
    reader allocate names for a huge index)."""
    band = np.asarray(band)
    if band.shape != (n_states,):
        raise InputError(f"{path}: results/rates/band has shape {band.shape}, expected ({n_states},)")
    if band.size and (band.min() < 0 or band.max() >= n_states):
        raise InputError(f"{path}: results/rates/band holds indices outside 0 .. {n_states - 1} "
                         f"({int(band.min())} .. {int(band.max())}): a damaged file")
    return tuple(f"band{b}" for b in range(int(band.max()) + 1 if band.size else 0))


def _table_sources(f, path):
    """({name: dataset, or None for weights absent from the file (all 1)}, group names)."""
    _require(f, path, [f"results/rates/{n}" for n in _TABLES])
    rates = f.file["results/rates"]
    src = {name: rates[name] for name in _TABLES}
    src["weight"] = rates["weight"] if "weight" in rates else None
    if "band" in rates:
        src["group"], src["k"] = rates["band"], rates["Q"]
        names = band_names(rates["band"][()], rates["energy"].shape[0], path)
    else:
        src["group"], src["k"] = rates["valley"], rates["k"]
        names = tuple(x.decode() if isinstance(x, bytes) else str(x) for x in rates["valley"].attrs["names"])
    return src, names


def scattering_tables_layout(path):
    """({name: (shape, dtype)} of the arrays :func:`read_scattering_tables` returns, group names)
    of a ``scattering`` run file, without reading the tables."""
    with RunFile(path, expect_workflow="scattering") as f:
        src, names = _table_sources(f, path)
        n = src["energy"].shape[0]
        return {name: ((n,) if d is None else d.shape, _DTYPES[name]) for name, d in src.items()}, names


def read_scattering_tables(path, out=None):
    """Tables of a ``scattering`` run file: dict with energy [n] meV, velocity [n, 2] nm/ps,
    total_rate [n] 1/ps, indptr [n + 1], indices [nnz], cumulative [nnz], group [n] (band or
    valley), group_names, weight [n], k [n, 2] 1/nm (Q or valley-local k).

    ``out``: {name: writable array} of the shapes and dtypes of :func:`scattering_tables_layout`
    (e.g. node-shared memory) that the datasets are read into directly; missing names are
    allocated."""
    with RunFile(path, expect_workflow="scattering") as f:
        src, names = _table_sources(f, path)
        n = src["energy"].shape[0]
        result = {"group_names": names}
        for name, dset in src.items():
            shape = (n,) if dset is None else dset.shape
            a = (out or {}).get(name)
            if a is None:
                a = np.empty(shape, _DTYPES[name])
            if a.shape != shape:
                raise InputError(f"{path}: results/rates/{name} has shape {shape}, expected {a.shape}")
            if dset is None:
                a[...] = 1.0
            elif a.size:
                dset.read_direct(a)
            result[name] = a
    return result
