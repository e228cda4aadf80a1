"""Workflow ``transport``: ensemble Monte Carlo of the exciton Boltzmann equation (seeds 000, 002).

Config -> sweep points (twist angle x temperature; or the one point of a finished
``scattering`` run file) -> per point the sampling tables (in-process with the scattering
workflow's ``build``/``table``, or read) -> particles over the ranks of a sub-communicator
(sweep points are spread over groups of ranks) -> moments, occupations and profiles at the
sampling times -> variances, transient and stationary D with batch errors ->
/results (docs/output.md ``## transport``).  Checkpoints: ``<output>.checkpoint/point_NNNN.h5``
every ``checkpoint_every`` samples; rerunning the same config resumes from them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import tomllib
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from ..config import Field, Schema, Section
from ..errors import ConfigError, HpcxError, InputError
from ..io import RunFile
from ..log import get_logger
from ..parallel import all_or_none, block_range, on_root
from ..physics import mc_engine as me
from ..physics import mc_table as mt
from ..physics import scattering as sc
from ..physics import transport as tr
from ..units import KB_MEV_PER_K
from . import scattering as scw

TRANSPORT = Section("transport", (
    Field("input", str, "", "a finished `scattering` run file whose tables are used (empty: compute the "
          "tables in-process from [scattering] for every twist angle and temperature)"),
    Field("twist_deg", float, (), "twist angles of the sweep (moiré model, in-process tables)", unit="deg",
          list_of=True, minimum=0.0, exclusive=True, maximum=30.0),
    Field("temperatures", float, (), "temperatures of the sweep (in-process tables); the tables, the "
          "thermal initial state and the RTA value are taken at each", unit="K", list_of=True,
          minimum=0.0, exclusive=True),
    Field("particles", int, 20000, "Monte Carlo particles per sweep point", minimum=2),
    Field("batches", int, 16, "independent batches of particles (statistical errors; the unit of "
          "distribution over ranks, so at most this many ranks per point)", minimum=2),
    Field("seed", int, 1, "run seed of the per-particle random streams", minimum=0, maximum=2 ** 63 - 1),
    Field("t_max", float, 100.0, "simulated time", unit="ps", minimum=0.0, exclusive=True),
    Field("samples", int, 100, "sampling intervals: moments at t = k t_max / samples, k = 0..samples",
          minimum=4),
    Field("fit_from", float, 0.5, "start of the late window of the stationary fit, as a fraction of t_max",
          minimum=0.0, maximum=0.95),
    Field("initial", str, "uniform", "initial states: 'uniform' = equal weight for E - E_min <= e0, "
          "'thermal' = Boltzmann at the point's temperature, 'state' = all in initial_state",
          choices=("uniform", "thermal", "state")),
    Field("e0", float, 60.0, "upper excess energy of the uniform initial distribution (seed 000: 60 meV)",
          unit="meV", minimum=0.0),
    Field("initial_state", int, 0, "state index for initial = 'state'", minimum=0),
    Field("spot_sigma", float, 1000.0, "standard deviation per axis of the initial Gaussian spot "
          "(seed 000: 1 um)", unit="nm", minimum=0.0),
    Field("sampler", str, "alias", "final-state sampling: 'alias' (Walker/Vose, O(1)) or 'search' "
          "(bisection in the cumulative row, O(log n)); same distribution, different random-number use",
          choices=("alias", "search")),
    Field("radiative_rate", float, 0.0, "radiative decay rate of light-cone states (0 = no decay)",
          unit="1/ps", minimum=0.0),
    Field("light_cone", float, 0.0, "states with |k| (moiré: |Q|) up to this decay radiatively",
          unit="1/nm", minimum=0.0),
    Field("profile_bins", int, 121, "bins of the x-profiles", minimum=2),
    Field("profile_half_width", float, 4000.0, "x-profiles cover [-w, w]", unit="nm", minimum=0.0,
          exclusive=True),
    Field("energy_bins", int, 60, "bins of the excess-energy histograms", minimum=2),
    Field("energy_max", float, 0.0, "upper edge of the energy histograms (0: the largest excess energy "
          "of the states)", unit="meV", minimum=0.0),
    Field("checkpoint_every", int, 10, "write a checkpoint every this many samples (0: never)", minimum=0),
), doc="Ensemble Monte Carlo of the Boltzmann transport equation on the scattering tables.", required=True)

_OVERRIDDEN = ("temperatures", "table_temperature", "twist_deg")
TABLES = Section("scattering", tuple(f for f in scw.SCATTERING.fields if f.name not in _OVERRIDDEN),
                 doc="Scattering tables computed in-process (as the `scattering` workflow; twist angles and "
                     "temperatures come from [transport]).  Ignored when transport.input is given.")

SCHEMA = Schema("transport", (TRANSPORT, TABLES),
                doc="Ensemble Monte Carlo solution of the exciton Boltzmann equation (seed 000 SI 'Monte Carlo "
                    "implementation', Figs. 2-4; seed 002): spatial moments, transient and stationary "
                    "diffusion, occupations, sweeps over temperature and twist angle.")

# test hook: called as _AFTER_SAMPLE(point, k) after every checkpoint-eligible sample
_AFTER_SAMPLE = None


# ----------------------------------------------------------------------------- config
def _scattering_cfg(cfg, theta, T):
    """A config object the scattering workflow's build()/table()/check() accept."""
    s = dict(dataclasses.asdict(cfg.scattering)) if dataclasses.is_dataclass(cfg.scattering) else \
        dict(vars(cfg.scattering))
    s.update(twist_deg=theta if theta is not None else 3.0, temperatures=(T,), table_temperature=T)
    return SimpleNamespace(source=cfg.source, scattering=SimpleNamespace(**s))


def _input_meta(path):
    """(table temperature K, twist deg or nan, model) of a scattering run file."""
    with RunFile(path, expect_workflow="scattering") as f:
        for name in ("results/rates/energy", "results/rates/velocity", "results/rates/total_rate",
                     "results/rates/indptr", "results/rates/indices", "results/rates/cumulative"):
            if name not in f.file:
                raise InputError(f"{path}: has no dataset '{name}'")
        T = float(f.file["results/rates"].attrs["temperature_K"])
        model = str(f.file["results"].attrs.get("model", "moire"))
        theta = float("nan")
        try:
            s = tomllib.loads(f.config_text).get("scattering", {})
            if model == "moire" and not s.get("input"):
                theta = float(s.get("twist_deg", 3.0))
        except tomllib.TOMLDecodeError:
            pass
    return T, theta, model


def check(cfg):
    """Semantic checks before any computation; raises ConfigError."""
    t = cfg.transport
    if t.particles < t.batches:
        raise ConfigError(cfg.source, "transport.particles", f"{t.particles} particles cannot fill "
                          f"{t.batches} batches")
    if t.input:
        for key in ("temperatures", "twist_deg"):
            if getattr(t, key):
                raise ConfigError(cfg.source, f"transport.{key}", "not allowed with transport.input (the "
                                  "tables of the input file fix temperature and twist angle)")
        try:
            _input_meta(t.input)
        except InputError as exc:
            raise ConfigError(cfg.source, "transport.input", str(exc)) from None
        return
    if not t.temperatures:
        raise ConfigError(cfg.source, "transport.temperatures", "needs at least one temperature unless "
                          "transport.input is given")
    model = cfg.scattering.model
    if model == "moire" and not t.twist_deg:
        raise ConfigError(cfg.source, "transport.twist_deg", "needs at least one twist angle for the moiré "
                          "model unless transport.input is given")
    if model != "moire" and t.twist_deg:
        raise ConfigError(cfg.source, "transport.twist_deg", f"only for the moiré model, not {model!r}")
    if cfg.scattering.input and len(t.twist_deg) > 1:
        raise ConfigError(cfg.source, "transport.twist_deg", "one twist angle only when the bands come from "
                          "scattering.input")
    for theta in (t.twist_deg or (None,)):
        scw.check(_scattering_cfg(cfg, theta, t.temperatures[0]))


def _points(cfg):
    """[(theta_deg or nan, T_K)] in sweep order (twist outer, temperature inner)."""
    t = cfg.transport
    if t.input:
        T, theta, _ = _input_meta(t.input)
        return [(theta, T)]
    thetas = t.twist_deg or (float("nan"),)
    return [(float(th), float(T)) for th in thetas for T in sorted(set(t.temperatures))]


# ----------------------------------------------------------------------------- tables
def _gather(a, comm):
    return np.concatenate(comm.allgather(np.asarray(a)))


def _labels(model, labels, info, n):
    if model == "moire":
        band = np.asarray(labels["band"])
        names = tuple(f"band{b}" for b in range(int(band.max()) + 1))
        return band, names, np.asarray(labels["Q"])
    return np.asarray(labels["valley"]), tuple(info["valleys"]), np.asarray(labels["k"])


def _tables_in_process(cfg, points, comm, log):
    """{point index: (McTable, D_rta cm^2/s)} for the given points, collective over comm."""
    s = cfg.scattering
    out = {}
    by_theta = {}
    for p in points:
        theta = p[1][0]
        by_theta.setdefault(None if np.isnan(theta) else theta, []).append(p)
    for theta, group in by_theta.items():
        first = _scattering_cfg(cfg, theta, group[0][1][1])
        E, v, weight, labels, terms, info = scw.build(first, comm, log)
        grp, names, k = _labels(s.model, labels, info, len(E))
        for index, (_, T) in group:
            W, _, _, _ = scw.table(E, terms, T, first.scattering, comm, log)
            tab = sc.sampling_table(W, s.threshold)
            total = _gather(tab["total_rate"], comm)
            indptr = np.concatenate([[0], np.cumsum(_gather(tab["counts"], comm))]).astype(np.int64)
            table = mt.McTable(E, v, total, indptr, _gather(tab["indices"], comm), _gather(tab["cumulative"], comm),
                               grp, names, weight, k)
            D_rta = sc.rta_curve(E, v, 1.0 / total, T, weight)[0]
            log.info("point %d (%s, %.1f K): %d states, %d table entries, D_RTA = %.4g cm^2/s",
                     index, f"{theta:.3g} deg" if theta is not None else s.model, T, table.n, table.nnz, D_rta)
            out[index] = (table, D_rta)
    return out


def _table_from_file(path, T):
    with RunFile(path, expect_workflow="scattering") as f:
        r = lambda name: f.read(f"results/rates/{name}")[0]  # noqa: E731
        E, v, total = r("energy"), r("velocity"), r("total_rate")
        weight = r("weight") if "results/rates/weight" in f.file else np.ones(len(E))
        if "results/rates/band" in f.file:
            grp = r("band").astype(np.int64)
            names = tuple(f"band{b}" for b in range(int(grp.max()) + 1))
            k = r("Q")
        else:
            grp = r("valley").astype(np.int64)
            names = tuple(x.decode() if isinstance(x, bytes) else str(x)
                          for x in f.file["results/rates/valley"].attrs["names"])
            k = r("k")
        table = mt.McTable(E, v, total, r("indptr"), r("indices"), r("cumulative"), grp, names, weight, k)
    return table, sc.rta_curve(E, v, 1.0 / total, T, weight)[0]


# ----------------------------------------------------------------------------- checkpoints
class _Checkpoint:
    """Checkpoint file of one sweep point, written by the group's rank 0 (atomic replace)."""

    def __init__(self, directory, index, cfg_hash, comm, log):
        self.path = Path(directory) / f"point_{index:04d}.h5"
        self.index, self.hash, self.comm, self.log = index, cfg_hash, comm, log

    def load(self):
        """None, or {"done": bool, "result": dict} / {"next": k, "record": dict, "particles": dict}."""
        def read():
            if not self.path.exists():
                return None
            import h5py
            with h5py.File(self.path, "r") as f:
                if f.attrs.get("config_sha256", "") != self.hash:
                    self.log.warning("%s belongs to another config: starting point %d afresh",
                                     self.path, self.index)
                    return None
                state = {"done": bool(f.attrs["done"]), "next": int(f.attrs["next_sample"])}
                state["result"] = _read_tree(f["result"]) if "result" in f else None
                state["record"] = _read_tree(f["record"]) if "record" in f else None
                state["particles"] = _read_tree(f["particles"]) if "particles" in f else None
            return state
        return on_root(read, self.comm)

    def _write(self, attrs, trees):
        import h5py
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with h5py.File(tmp, "w") as f:
            f.attrs["config_sha256"] = self.hash
            for key, value in attrs.items():
                f.attrs[key] = value
            for name, tree in trees.items():
                _write_tree(f.create_group(name), tree)
        os.replace(tmp, self.path)

    def progress(self, k, record, ensemble):
        particles = ensemble.gather_state()
        with all_or_none(self.comm):
            if self.comm.rank == 0:
                self._write({"done": False, "next_sample": k + 1},
                            {"record": record.as_dict(), "particles": particles})

    def done(self, result):
        with all_or_none(self.comm):
            if self.comm.rank == 0:
                self._write({"done": True, "next_sample": -1}, {"result": result})


def _write_tree(group, tree):
    for key, value in tree.items():
        if isinstance(value, dict):
            _write_tree(group.create_group(key), value)
        elif isinstance(value, (tuple, list)) and value and isinstance(value[0], str):
            group.create_dataset(key, data=np.char.encode(np.asarray(value), "utf-8"))
        else:
            group.create_dataset(key, data=np.asarray(value))


def _read_tree(group):
    import h5py
    out = {}
    for key, obj in group.items():
        if isinstance(obj, h5py.Group):
            out[key] = _read_tree(obj)
        else:
            data = obj[()]
            if isinstance(data, np.ndarray) and data.dtype.kind == "S":
                data = tuple(np.char.decode(data, "utf-8").tolist())
            out[key] = data
    return out


# ----------------------------------------------------------------------------- run
def _split(comm, n_points):
    """(number of groups, my group, sub-communicator): consecutive ranks form a group."""
    n_groups = max(1, min(comm.size, n_points))
    if n_groups == 1 or comm.size == 1:
        return 1, 0, comm
    color = next(g for g in range(n_groups) if block_range(comm.size, n_groups, g)[0] <= comm.rank
                 < block_range(comm.size, n_groups, g)[1])
    return n_groups, color, comm.Split(color, comm.rank)


def _params(t):
    edges = np.linspace(-t.profile_half_width, t.profile_half_width, t.profile_bins + 1)
    return me.McParams(t.particles, t.batches, t.seed, t.spot_sigma, t.sampler, edges)


def _state_arrays(table):
    return {"energy": table.energy, "velocity": table.velocity, "group": table.group, "k": table.k,
            "total_rate": table.total_rate, "weight": table.weight, "decay": table.decay}


def run(cfg, writer, comm, timer):
    log = get_logger("transport")
    t = cfg.transport
    points = _points(cfg)
    times = np.linspace(0.0, t.t_max, t.samples + 1)
    n_groups, color, sub = _split(comm, len(points))
    mine = range(color, len(points), n_groups)      # round robin: sweeps are sorted by cost (T)
    largest = -(-comm.size // n_groups)
    if largest > t.batches:
        raise ConfigError(cfg.source, "transport.batches", f"{t.batches} batches cannot be spread over "
                          f"{largest} ranks of a sweep point; use at least {largest}")
    log.info("transport: %d sweep point(s) on %d group(s) of ranks, %d particles in %d batches, %d samples "
             "to %.4g ps", len(points), n_groups, t.particles, t.batches, t.samples, t.t_max)
    ckdir = Path(str(writer.final) + ".checkpoint")
    cfg_hash = hashlib.sha256(cfg.text.encode("utf-8")).hexdigest()
    ckpts = {i: _Checkpoint(ckdir, i, cfg_hash, sub, log) for i in mine}
    saved = {i: (ckpts[i].load() if t.checkpoint_every else None) for i in mine}
    todo = [i for i in mine if not (saved[i] and saved[i]["done"])]

    with timer.phase("tables"):
        with all_or_none(sub):
            if t.input:
                tables = {i: _table_from_file(t.input, points[i][1]) for i in todo}
            else:
                tables = _tables_in_process(cfg, [(i, points[i]) for i in todo], sub, log)

    results = []
    with timer.phase("monte_carlo"):
        for i in mine:
            if i not in todo:
                log.info("point %d: finished in %s, not recomputed", i, ckpts[i].path)
                results.append(saved[i]["result"])
                continue
            results.append(_simulate_point(cfg, i, points[i], tables[i], times, sub, ckpts[i], saved[i], log))
        every = comm.allgather(results if sub.rank == 0 else [])      # waits for the other groups
        results = sorted((r for part in every for r in part), key=lambda r: int(r["index"]))

    with timer.phase("write"):
        _write(writer, cfg, points, times, results)
        comm.Barrier()
        if comm.rank == 0 and ckdir.exists():
            shutil.rmtree(ckdir, ignore_errors=True)


def _simulate_point(cfg, index, point, table_rta, times, comm, ckpt, saved, log):
    t = cfg.transport
    table, D_rta = table_rta
    theta, T = point
    if t.radiative_rate > 0:
        table = table.with_decay(t.radiative_rate, t.light_cone)
    with all_or_none(comm):
        try:
            cdf = mt.initial_cdf(table, t.initial, T=T, e0=t.e0, state=t.initial_state)
        except ValueError as exc:
            raise ConfigError(cfg.source, "transport.initial" if t.initial != "state" else
                              "transport.initial_state", str(exc)) from None
    params = _params(t)
    record, start, particles = None, 0, None
    if saved and not saved["done"] and saved["record"] is not None:
        record = me.Record(**saved["record"])
        start, particles = saved["next"], saved["particles"]
        log.info("point %d: resuming from %s at sample %d (t = %.4g ps)", index, ckpt.path, start, times[start])

    def on_sample(k, rec, ens):
        if t.checkpoint_every and (k + 1) % t.checkpoint_every == 0 and k + 1 < len(times):
            ckpt.progress(k, rec, ens)
        if _AFTER_SAMPLE is not None:
            _AFTER_SAMPLE(index, k)

    record = me.simulate(table, params, times, cdf, comm, record, start, particles, on_sample)
    log.info("point %d (%.3g deg, %.1f K): %d scattering events, %d decays", index, theta, T,
             record.events[-1], record.decays[-1])
    # the exact t -> infinity limit of the same tables (replicated, identical on every rank)
    D_exact, _ = tr.green_kubo_diffusion(table.total_rate, table.indptr, table.indices, table.cumulative,
                                         table.velocity)
    result = {"index": index, "theta": theta, "T": T, "D_rta": D_rta, "D_exact": D_exact,
              "group_names": table.group_names,
              "states": _state_arrays(table), "record": record.as_dict()}
    if t.checkpoint_every:
        ckpt.done(result)
    return result


# ----------------------------------------------------------------------------- output
def _analyse(cfg, times, res, energy_edges):
    t = cfg.transport
    rec = res["record"]
    st = res["states"]
    sigma2, msd = tr.variances(rec["moments"])
    mb = tr.batch_variances(rec["moments"])
    D, err, slope, icpt = tr.stationary_diffusion(times, msd[:, -1], mb, t.fit_from * t.t_max)
    n_group = rec["moments"][..., 0].sum(axis=1)                                   # [n_t, G]
    prof = rec["profiles"]
    prof = np.concatenate([prof, prof.sum(axis=1, keepdims=True)], axis=1)
    E = st["energy"]
    v2, tau, D_occ = tr.occupation_averages(st["velocity"], st["total_rate"], rec["occupation"])
    occ = rec["occupation"].astype(float)
    mean_E = (occ @ (E - E.min())) / np.maximum(occ.sum(axis=1), 1)
    boltz = mt.boltzmann(E, st["weight"], res["T"])
    k_fit = int(np.searchsorted(times, t.fit_from * t.t_max))
    return {
        "fit_events": (rec["events"][-1] - rec["events"][k_fit]) / t.particles,
        "variance": sigma2, "msd": msd,
        "population": np.concatenate([n_group, n_group.sum(axis=1, keepdims=True)], axis=1) / t.particles,
        "transient": tr.transient_diffusion(times, msd[:, -1]),
        "transient_groups": tr.transient_diffusion(times, msd[:, :-1]),
        "stationary": D, "stationary_error": err, "fit_intercept": icpt,
        "profiles": tr.profile_density(prof, _edges(t), t.particles),
        "energy_histogram": tr.energy_histogram(E - E.min(), rec["occupation"], energy_edges),
        "energy_histogram_boltzmann": tr.energy_histogram(E - E.min(), boltz, energy_edges),
        "v2_eff": v2, "tau_eff": tau, "diffusion_occupation": D_occ, "mean_energy": mean_E,
        "v2_eff_boltzmann": float(boltz @ np.sum(st["velocity"] ** 2, axis=1)),
    }


def _edges(t):
    return np.linspace(-t.profile_half_width, t.profile_half_width, t.profile_bins + 1)


def _write(writer, cfg, points, times, results):
    t = cfg.transport
    emax = t.energy_max or max(float(np.ptp(r["states"]["energy"])) for r in results) or 1.0
    eedges = np.linspace(0.0, emax, t.energy_bins + 1)
    an = [_analyse(cfg, times, r, eedges) for r in results]
    names = tuple(results[0]["group_names"])
    stack = lambda key: np.stack([a[key] for a in an])  # noqa: E731
    log = get_logger("transport")
    for r, a in zip(results, an):
        log.info("point %d (%.3g deg, %.1f K): D = %.4g +- %.2g cm^2/s (stationary, t >= %.4g ps, %.3g events "
                 "per particle); equilibrium limit of the tables %.4g, RTA %.4g cm^2/s", r["index"], r["theta"],
                 r["T"], a["stationary"], a["stationary_error"], t.fit_from * t.t_max, a["fit_events"],
                 r["D_exact"], r["D_rta"])
        if a["fit_events"] < 20:
            log.warning("point %d: only %.3g scattering events per particle in the fit window: the motion is "
                        "not diffusive yet, D is not stationary (increase t_max)", r["index"], a["fit_events"])
    cols = list(names) + ["total"]
    writer.group("results", attrs={
        "model": "moire" if names[0].startswith("band") else "multivalley", "groups": list(names),
        "particles": t.particles, "batches": t.batches, "seed": t.seed, "initial": t.initial,
        "e0_meV": t.e0, "spot_sigma_nm": t.spot_sigma, "sampler": t.sampler, "n_points": len(results),
        "input": t.input})
    w = writer.write
    w("results/time", times, units="ps")
    w("results/variance", stack("variance"), units="nm^2", attrs={
        "shape": "[n_point, n_time, n_group + 1]", "columns": cols,
        "definition": "var(x) + var(y) of the positions of the group's particles"})
    w("results/msd", stack("msd"), units="nm^2", attrs={
        "shape": "[n_point, n_time, n_group + 1]", "columns": cols,
        "definition": "var(dx) + var(dy) of the displacements r(t) - r(0)"})
    w("results/population", stack("population"), units="", attrs={
        "shape": "[n_point, n_time, n_group + 1]", "columns": cols, "definition": "particles / N"})
    d = "results/diffusion"
    writer.group(d, attrs={"fit_from_ps": t.fit_from * t.t_max,
                           "definition": "D = (1/4) d sigma^2/dt of the displacement variance (msd)"})
    w(f"{d}/transient", stack("transient"), units="cm^2/s", attrs={"shape": "[n_point, n_time]"})
    w(f"{d}/transient_groups", stack("transient_groups"), units="cm^2/s",
      attrs={"shape": "[n_point, n_time, n_group]", "columns": list(names)})
    w(f"{d}/stationary", stack("stationary"), units="cm^2/s", attrs={"shape": "[n_point]"})
    w(f"{d}/stationary_error", stack("stationary_error"), units="cm^2/s",
      attrs={"shape": "[n_point]", "definition": "standard error over the batches"})
    w(f"{d}/fit_intercept", stack("fit_intercept"), units="nm^2", attrs={"shape": "[n_point]"})
    edges = _edges(t)
    w("results/profiles", stack("profiles"), units="1/nm", attrs={
        "shape": "[n_point, n_time, n_group + 1, n_bin]", "columns": cols,
        "definition": "particles per nm along x (marginal over y) / N"})
    w("results/profile_x", 0.5 * (edges[1:] + edges[:-1]), units="nm")
    w("results/profile_edges", edges, units="nm")
    w("results/occupation", np.stack([r["record"]["occupation"] for r in results]).astype(np.int64), units="",
      attrs={"shape": "[n_point, n_time, n_state]", "definition": "particles per state"})
    w("results/energy_edges", eedges, units="meV", attrs={"definition": "excess energy E - E_min"})
    w("results/energy_histogram", stack("energy_histogram"), units="",
      attrs={"shape": "[n_point, n_time, n_bin]", "definition": "fraction of particles per bin"})
    w("results/energy_histogram_boltzmann", stack("energy_histogram_boltzmann"), units="",
      attrs={"shape": "[n_point, n_bin]", "definition": "Boltzmann distribution over the same states"})
    w("results/events", np.stack([r["record"]["events"] for r in results]), units="",
      attrs={"definition": "scattering events of all particles up to each time"})
    w("results/decays", np.stack([r["record"]["decays"] for r in results]), units="")
    g = "results/analysis"
    writer.group(g, attrs={"definition": "seed 000 Eq. 1 with the Monte Carlo occupation N_i(t)"})
    w(f"{g}/v2_eff", stack("v2_eff"), units="nm^2/ps^2", attrs={"definition": "sum_i N_i |v_i|^2"})
    w(f"{g}/tau_eff", stack("tau_eff"), units="ps", attrs={"definition": "sum_i N_i / total_rate_i"})
    w(f"{g}/diffusion_occupation", stack("diffusion_occupation"), units="cm^2/s",
      attrs={"definition": "(1/2) sum_i N_i |v_i|^2 tau_i"})
    w(f"{g}/mean_energy", stack("mean_energy"), units="meV", attrs={"definition": "mean excess energy"})
    w(f"{g}/v2_eff_boltzmann", stack("v2_eff_boltzmann"), units="nm^2/ps^2")
    s = "results/states"
    writer.group(s, attrs={"definition": "the states of each sweep point's tables"})
    for key, unit in (("energy", "meV"), ("velocity", "nm/ps"), ("group", ""), ("k", "1/nm"),
                      ("total_rate", "1/ps"), ("weight", ""), ("decay", "1/ps")):
        w(f"{s}/{key}", np.stack([r["states"][key] for r in results]), units=unit)
    sw = "results/sweep"
    writer.group(sw, attrs={"definition": "one entry per sweep point (twist outer, temperature inner)"})
    w(f"{sw}/temperature", np.array([r["T"] for r in results]), units="K")
    w(f"{sw}/theta_deg", np.array([r["theta"] for r in results]), units="deg")
    w(f"{sw}/diffusion", stack("stationary"), units="cm^2/s")
    w(f"{sw}/diffusion_error", stack("stationary_error"), units="cm^2/s")
    w(f"{sw}/diffusion_rta", np.array([r["D_rta"] for r in results]), units="cm^2/s",
      attrs={"definition": "RTA with a Boltzmann distribution, SI Eq. 23, same tables"})
    w(f"{sw}/diffusion_exact", np.array([r["D_exact"] for r in results]), units="cm^2/s", attrs={
        "definition": "exact t -> infinity D of the same tables for the stationary (Boltzmann) distribution "
                      "(Green-Kubo, linear solve); NaN if the tables are not irreducible"})
    w(f"{sw}/kT", KB_MEV_PER_K * np.array([r["T"] for r in results]), units="meV")
    w(f"{sw}/fit_events", stack("fit_events"), units="", attrs={
        "definition": "scattering events per particle inside the fit window; a stationary D needs >> 1"})


# ----------------------------------------------------------------------------- job arrays
def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, float):
        return repr(value) if np.isfinite(value) else ("nan" if np.isnan(value) else
                                                        ("inf" if value > 0 else "-inf"))
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def point_config(text, index, source="config"):
    """Config text of sweep point ``index`` (0-based, order of /results/sweep) of a transport config.

    Every point of a sweep uses the same seed, so a job array of point configs gives the same
    numbers as the whole sweep in one run.  Returns (text, number of points).
    """
    from ..config import validate
    from . import schemas
    cfg = validate(text, source, schemas())
    if cfg.workflow != "transport":
        raise ConfigError(source, "run.workflow", "point configs exist for 'transport' only")
    t = cfg.transport
    pts = [(None, None)] if t.input else [(th, T) for th in (t.twist_deg or (None,))
                                          for T in sorted(set(t.temperatures))]
    if not 0 <= index < len(pts):
        raise ConfigError(source, "transport", f"sweep point {index} does not exist (0..{len(pts) - 1})")
    data = tomllib.loads(text)
    theta, T = pts[index]
    if T is not None:
        data["transport"]["temperatures"] = [T]
    if theta is not None:
        data["transport"]["twist_deg"] = [theta]
    lines = [f"# sweep point {index} of {len(pts)} of {source} (hpcx.workflows.transport.point_config)"]
    for name, table in data.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in table.items()]
        lines.append("")
    return "\n".join(lines), len(pts)


def _main(argv=None):
    """python -m hpcx.workflows.transport points CONFIG | point CONFIG INDEX (job-array helper)."""
    import sys

    from ..config import read_config_text
    args = sys.argv[1:] if argv is None else argv
    try:
        if len(args) == 2 and args[0] == "points":
            print(point_config(read_config_text(args[1]), 0, args[1])[1])
        elif len(args) == 3 and args[0] == "point" and args[2].isdigit():
            print(point_config(read_config_text(args[1]), int(args[2]), args[1])[0], end="")
        else:
            print("usage: python -m hpcx.workflows.transport points CONFIG | point CONFIG INDEX", file=sys.stderr)
            return 2
    except HpcxError as exc:
        print(f"hpcx: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())


# ----------------------------------------------------------------------------- figures
def plot(run, stem):
    """Figures of a transport run: sigma^2(t) and D(t), x-profiles, occupations, D(T) of a sweep."""
    from ..plotting import _pyplot, _save
    plt = _pyplot()
    read = lambda name: run.read(f"results/{name}")[0]  # noqa: E731
    t, var, Dt = read("time"), read("variance"), read("diffusion/transient")
    D, err = read("diffusion/stationary"), read("diffusion/stationary_error")
    T, theta, rta = read("sweep/temperature"), read("sweep/theta_deg"), read("sweep/diffusion_rta")
    icpt = read("diffusion/fit_intercept")
    t_fit = float(run.file["results/diffusion"].attrs["fit_from_ps"])
    label = lambda p: (f"{theta[p]:g}°, " if np.isfinite(theta[p]) else "") + f"{T[p]:g} K"  # noqa: E731
    outputs = []

    fig, (a, b) = plt.subplots(1, 2, figsize=(9.0, 3.6))
    for p in range(len(T)):
        line, = a.plot(t, 1e-6 * var[p, :, -1], label=f"{label(p)}: D = {D[p]:.3g} ± {err[p]:.2g} cm²/s")
        late = t >= t_fit
        # sigma^2 = sigma_0^2 + msd; the stationary fit is msd = intercept + 4 D t (D in nm^2/ps = 100 D)
        fit = var[p, 0, -1] + icpt[p] + 400.0 * D[p] * t[late]
        a.plot(t[late], 1e-6 * fit, "--", color=line.get_color(), lw=1)
        b.plot(t, Dt[p], color=line.get_color(), label=f"{label(p)} (RTA {rta[p]:.3g})")
    a.set_xlabel("t (ps)"), a.set_ylabel("σ² (µm²)"), a.legend(fontsize=7)
    b.axvline(t_fit, color="0.7", lw=0.8)
    b.set_xlabel("t (ps)"), b.set_ylabel("D(t) = ¼ dσ²/dt (cm²/s)"), b.legend(fontsize=7)
    outputs.append(_save(fig, stem, "variance"))

    prof, x = read("profiles"), read("profile_x")
    n_p = len(T)
    fig, axes = plt.subplots(1, n_p, figsize=(4.2 * n_p, 3.4), squeeze=False)
    for p, ax in zip(range(n_p), axes[0]):
        picks = np.unique(np.linspace(0, len(t) - 1, 6).astype(int))
        for k in picks:
            y = prof[p, k, -1]
            ax.plot(1e-3 * x, y / max(y.max(), 1e-300), label=f"{t[k]:.3g} ps")
        ax.set_xlabel("x (µm)"), ax.set_ylabel("N(x) / max"), ax.set_title(label(p)), ax.legend(fontsize=7)
    outputs.append(_save(fig, stem, "profiles"))

    hist, hb, edges = read("energy_histogram"), read("energy_histogram_boltzmann"), read("energy_edges")
    pop = read("population")
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in run.file["results"].attrs["groups"]]
    fig, axes = plt.subplots(2, n_p, figsize=(4.2 * n_p, 6.4), squeeze=False)
    centre = 0.5 * (edges[1:] + edges[:-1])
    for p in range(n_p):
        ax = axes[0, p]
        for k in (0, len(t) // 10, len(t) - 1):
            ax.step(centre, hist[p, k], where="mid", label=f"MC {t[k]:.3g} ps")
        ax.plot(centre, hb[p], "k--", lw=1, label="Boltzmann")
        ax.set_yscale("log"), ax.set_xlabel("E - E_min (meV)"), ax.set_ylabel("fraction"), ax.set_title(label(p))
        ax.set_ylim(bottom=0.3 / float(run.file["results"].attrs["particles"]), top=1.5)
        ax.legend(fontsize=7)
        ax = axes[1, p]
        for g, name in enumerate(names):
            ax.plot(t, pop[p, :, g], label=name)
        ax.set_xscale("symlog", linthresh=max(t[1], 1e-9)), ax.set_xlim(0, t[-1])
        ax.set_xlabel("t (ps)"), ax.set_ylabel("population")
        ax.legend(fontsize=7)
    outputs.append(_save(fig, stem, "occupation"))

    if n_p > 1:
        fig, ax = plt.subplots(figsize=(4.8, 3.6))
        for th in np.unique(theta) if np.all(np.isfinite(theta)) else [np.nan]:
            m = (theta == th) if np.isfinite(th) else np.ones(n_p, bool)
            line = ax.errorbar(T[m], D[m], yerr=err[m], marker="o", ms=3, capsize=2,
                               label=f"MC {th:g}°" if np.isfinite(th) else "MC")
            ax.plot(T[m], rta[m], "--", color=line[0].get_color(), label="RTA (Boltzmann)")
        ax.set_xlabel("T (K)"), ax.set_ylabel("D (cm²/s)"), ax.set_yscale("log"), ax.legend(fontsize=7)
        outputs.append(_save(fig, stem, "sweep"))
    return outputs
