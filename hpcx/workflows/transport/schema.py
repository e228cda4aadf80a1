"""Config schema of the ``transport`` workflow and its translation into typed parameters."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ...config import Field, Schema, Section
from ...errors import ConfigError, InputError
from ...io.tables import scattering_tables_meta
from ...physics import scattering_states as ss
from ...physics.scattering_tables import TableSettings
from .. import _shared

TRANSPORT = Section("transport", (
    Field("input", str, "", "a finished `scattering` run file whose tables are used (empty: compute the "
          "tables in-process from [scattering] for every twist angle and temperature); a relative path is "
          "taken from the config file's directory"),
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
    Field("checkpoint_every", int, 10, "write a checkpoint every this many samples (0: only when the run "
          "is asked to stop)", minimum=0),
), doc="Ensemble Monte Carlo of the Boltzmann transport equation on the scattering tables.", required=True)

TABLES = Section("scattering", _shared.fields(exclude=_shared.SWEPT),
                 doc="Scattering tables computed in-process (as the `scattering` workflow; twist angles and "
                     "temperatures come from [transport]).  Ignored when transport.input is given.")

SCHEMA = Schema("transport", (TRANSPORT, TABLES),
                doc="Ensemble Monte Carlo solution of the exciton Boltzmann equation (seed 000 SI 'Monte Carlo "
                    "implementation', Figs. 2-4; seed 002): spatial moments, transient and stationary "
                    "diffusion, occupations, sweeps over temperature and twist angle.")


@dataclasses.dataclass(frozen=True)
class MonteCarlo:
    """The [transport] keys of the Monte Carlo itself (units as in the schema: ps, nm, meV, 1/ps, 1/nm)."""

    particles: int
    batches: int
    seed: int
    t_max: float
    samples: int
    fit_from: float
    initial: str
    e0: float
    initial_state: int
    spot_sigma: float
    sampler: str
    radiative_rate: float
    light_cone: float
    profile_bins: int
    profile_half_width: float
    energy_bins: int
    energy_max: float
    checkpoint_every: int


@dataclasses.dataclass(frozen=True)
class Params:
    """Everything a ``transport`` run needs, resolved and checked.

    ``points``: ((twist deg or NaN, T K), ...) in sweep order (twist outer, temperature
    inner); ``input``: a ``scattering`` run file whose tables are used (``input_text`` as
    configured), else the tables are computed in-process from ``model`` (bands from
    ``bands_input`` if given) with ``settings``; ``mc``: :class:`MonteCarlo`.
    """

    points: tuple
    input: Path | None
    input_text: str
    model: object
    bands_input: Path | None
    settings: TableSettings | None
    mc: MonteCarlo


def _input_points(cfg, t):
    for key in ("temperatures", "twist_deg"):
        if getattr(t, key):
            raise ConfigError(cfg.source, f"transport.{key}", "not allowed with transport.input (the "
                              "tables of the input file fix temperature and twist angle)")
    path = cfg.path(t.input)
    try:
        T, theta, _, n, span = scattering_tables_meta(path)
    except InputError as exc:
        raise ConfigError(cfg.source, "transport.input", str(exc)) from None
    _shared.check_temperatures(cfg.source, "transport.input", (T,), span, f"tables of {path}")
    return path, ((theta, T),), n


def _sweep_points(cfg, t, model):
    if not t.temperatures:
        raise ConfigError(cfg.source, "transport.temperatures", "needs at least one temperature unless "
                          "transport.input is given")
    name = cfg.scattering.model
    if name == "moire" and not t.twist_deg:
        raise ConfigError(cfg.source, "transport.twist_deg", "needs at least one twist angle for the moiré "
                          "model unless transport.input is given")
    if name != "moire" and t.twist_deg:
        raise ConfigError(cfg.source, "transport.twist_deg", f"only for the moiré model, not {name!r}")
    if cfg.scattering.input and len(t.twist_deg) > 1:
        raise ConfigError(cfg.source, "transport.twist_deg", "one twist angle only when the bands come from "
                          "scattering.input")
    temps = sorted(set(float(T) for T in t.temperatures))
    for theta in (t.twist_deg or (None,)):
        if name == "moire" and cfg.scattering.input:
            span, what = _shared.bands_input(cfg)[-1], f"bands of {cfg.scattering.input}"
        else:
            span, what = ss.energy_span_bound(model, theta), "bound from the model"
        _shared.check_temperatures(cfg.source, "transport.temperatures", temps, span, what)
    thetas = t.twist_deg or (float("nan"),)
    return tuple((float(th), T) for th in thetas for T in temps)


def _check_layout(cfg, t, n_points, n_states, comm_size):
    n_groups = max(1, min(comm_size, n_points))
    largest = -(-comm_size // n_groups)
    if largest > t.batches:
        raise ConfigError(cfg.source, "transport.batches", f"{t.batches} batches cannot be spread over "
                          f"{largest} ranks of a sweep point; use at least {largest}")
    if t.initial == "state" and t.initial_state >= n_states:
        raise ConfigError(cfg.source, "transport.initial_state",
                          f"initial state {t.initial_state} outside 0..{n_states - 1}")


def params(cfg, comm_size=1):
    """Typed parameters of a validated ``transport`` config; raises ConfigError."""
    t = cfg.transport
    if t.particles < t.batches:
        raise ConfigError(cfg.source, "transport.particles", f"{t.particles} particles cannot fill "
                          f"{t.batches} batches")
    model = bands = settings = None
    if t.input:
        path, points, n_states = _input_points(cfg, t)
    else:
        path = None
        model = _shared.states_model(cfg)
        bands_meta = _shared.bands_input(cfg) if cfg.scattering.model == "moire" else (None,) * 6
        bands = bands_meta[0]
        n_states = bands_meta[3] * bands_meta[4] if bands is not None else ss.n_states(model)
        settings = _shared.table_settings(cfg, model)
        points = _sweep_points(cfg, t, model)
    _check_layout(cfg, t, len(points), n_states, comm_size)
    mc = MonteCarlo(**{f.name: getattr(t, f.name) for f in dataclasses.fields(MonteCarlo)})
    return Params(points=points, input=path, input_text=t.input, model=model, bands_input=bands,
                  settings=settings, mc=mc)


def sweep_overrides(p):
    """One config override per sweep point, in the order of /results/sweep (``hpcx sweep``).

    Each point keeps the whole config (seed included) with one temperature (and one twist
    angle for the moiré model), so a job array of points gives the numbers of the whole sweep.
    """
    if p.input is not None:
        return [{}]
    moire = isinstance(p.model, ss.MoireModel)
    return [{"transport": {"temperatures": [T], **({"twist_deg": [theta]} if moire else {})}}
            for theta, T in p.points]
