"""Config schema of the ``valley`` workflow and its translation into typed parameters."""

from __future__ import annotations

import dataclasses
import math

from ... import materials
from ...config import Field, Schema, Section
from ...errors import ConfigError
from ...materials import phonons as phonon_data
from ...physics.valley_source import Pulse

VALLEY = Section("valley", (
    Field("material", str, "WS2", "monolayer with a multi-valley model in hpcx/materials/phonons.toml "
          "([valleys.<material>.*])"),
    Field("environment", str, "hBN", "dielectric half-spaces on both sides (hpcx/materials/environments.toml); "
          "sets the 1s form factor through the Wannier equation"),
    Field("valleys", str, (), "valleys to include (default: all of the material's model, e.g. KK, KKp, KL)",
          list_of=True),
    Field("temperatures", float, (300.0, 77.0, 20.0), "lattice temperatures, one independent solution each",
          unit="K", list_of=True, min_items=1, minimum=0.0, exclusive=True),
    Field("t_end", float, 150.0, "end of the simulated time", unit="ps", minimum=0.0, exclusive=True),
    Field("dt", float, 0.1, "spacing of the output times of the moments (w^2, D)", unit="ps",
          minimum=0.0, exclusive=True),
    Field("dq", float, 0.01, "width of the |Q| cells of the moment solver", unit="1/nm",
          minimum=0.0, exclusive=True),
    Field("energy_window_kT", float, 8.0, "kinetic-energy window of every valley: the hottest formation "
          "energy plus this many k_B T", minimum=1.0),
    Field("pulse_t0", float, 0.2, "centre of the exciting pulse (seed 002: 0.2 ps)", unit="ps"),
    Field("pulse_fwhm", float, 0.1, "amplitude FWHM of the pulse in time (seed 002: 100 fs)", unit="ps",
          minimum=0.0, exclusive=True),
    Field("spot_fwhm", float, 500.0, "amplitude FWHM of the spot (seed 002: 0.5 um)", unit="nm",
          minimum=0.0, exclusive=True),
    Field("radiative_decay", bool, True, "radiative decay of bright excitons inside the light cone"),
    Field("intervalley_off_after", float, None, "switch every intervalley channel off at this time "
          "(seed 002 Fig. 4; a multiple of dt and profile_dt, after the pulse); default: never", unit="ps",
          minimum=0.0, exclusive=True),
    Field("scale_intravalley", float, 1.0, "factor on every intravalley coupling constant (sensitivity "
          "studies; rates scale with its square)", minimum=0.0),
    Field("scale_intervalley", float, 1.0, "factor on every intervalley coupling constant", minimum=0.0),
    Field("acoustic_split", float, None, "put this share s of the effective acoustic constant on LA and "
          "sqrt(1 - s^2) on TA (phonons.toml [extra] D1_LA_valley_split = 0.739); default: all on LA",
          minimum=0.0, maximum=1.0),
    Field("profiles", bool, True, "also solve for the radial profiles N_v(r, t) and the PL profile"),
    Field("profile_dt", float, 0.5, "spacing of the profile output times (a multiple of dt)", unit="ps",
          minimum=0.0, exclusive=True),
    Field("profile_dq", float, 0.03, "|Q| cell width of the profile solver", unit="1/nm",
          minimum=0.0, exclusive=True),
    Field("profile_harmonics", int, 8, "angular harmonics cos(m theta), m < this, of the profile solver",
          minimum=2, maximum=32),
    Field("profile_k_nodes", int, 16, "Gauss-Legendre nodes per panel of the Hankel transform", minimum=4,
          maximum=64),
    Field("profile_k_panels", int, 5, "panels of the k quadrature (each 4x narrower towards k = 0)",
          minimum=1, maximum=8),
    Field("profile_r_points", int, 161, "points of the radial output grid", minimum=2),
    Field("profile_chunk", int, 16, "wavenumbers propagated together (memory vs overhead)", minimum=1),
    Field("monte_carlo", bool, False, "also run the weighted Monte Carlo on the same cells and rates "
          "(section [monte_carlo]): the statistical cross-check of the moment solver"),
), doc="Valley-resolved spatiotemporal exciton dynamics of a monolayer (seed 002).", required=True)

MONTE_CARLO = Section("monte_carlo", (
    Field("particles", int, 100000, "particles per temperature (each carries weight 1/particles of the "
          "excitons formed)", minimum=2),
    Field("batches", int, 32, "independent batches of particles (jackknife errors; the unit of distribution "
          "over ranks, so at most this many ranks)", minimum=2),
    Field("seed", int, 1, "run seed of the per-particle random streams", minimum=0, maximum=2 ** 63 - 1),
    Field("dt", float, 1.0, "spacing of the Monte Carlo samples (a multiple of [valley] dt that divides t_end)",
          unit="ps", minimum=0.0, exclusive=True),
    Field("temperatures", float, (), "temperatures of [valley] temperatures to simulate (default: all)",
          unit="K", list_of=True),
    Field("speeds", str, "boltzmann", "speed of a particle in a cell: 'boltzmann' (its own, drawn from the "
          "cell's Boltzmann shape at every entry) or 'rms' (the cell's rms speed, the moment solver's)",
          choices=("boltzmann", "rms")),
    Field("r_max", float, 3000.0, "outer radius of the radial histograms", unit="nm", minimum=0.0,
          exclusive=True),
    Field("r_bins", int, 60, "radial histogram bins", minimum=1, maximum=10000),
), doc="Weighted ensemble Monte Carlo of the same equation (used when [valley] monte_carlo = true).")

SCHEMA = Schema("valley", (VALLEY, MONTE_CARLO), doc="Bright and momentum-dark exciton diffusion after a focused "
                "pulse: moments, profiles, PL and the scattering-induced diffusion (seed 002), with an optional "
                "Monte Carlo cross-check.")


@dataclasses.dataclass(frozen=True)
class McParams:
    """The [monte_carlo] section, checked: sampling times every ``dt`` ps of [0, t_end]."""

    particles: int
    batches: int
    seed: int
    dt: float
    temperatures: tuple
    speeds: str
    r_max: float
    r_bins: int

    def times(self, t_end: float):
        import numpy as np
        return np.linspace(0.0, t_end, int(round(t_end / self.dt)) + 1)


@dataclasses.dataclass(frozen=True)
class Params:
    """Everything a ``valley`` run needs, resolved and checked (units: K, ps, nm, 1/nm)."""

    material: str
    environment: object
    couplings: object
    phonons: object
    valleys: tuple
    temperatures: tuple
    times_end: float
    dt: float
    dq: float
    energy_window_kT: float
    pulse: Pulse
    radiative_decay: bool
    intervalley_off_after: float | None
    scale_intravalley: float
    scale_intervalley: float
    acoustic_split: float | None
    profiles: bool
    profile_dt: float
    profile_dq: float
    profile_harmonics: int
    profile_k_nodes: int
    profile_k_panels: int
    profile_r_points: int
    profile_chunk: int
    mc: McParams | None = None

    @property
    def n_times(self) -> int:
        return int(round(self.times_end / self.dt)) + 1

    @property
    def n_profile_times(self) -> int:
        return int(round(self.times_end / self.profile_dt)) + 1

    @property
    def n_k(self) -> int:
        return 1 + self.profile_k_nodes * self.profile_k_panels


def _multiple(value, step):
    """value = n step for a whole n >= 1 (to 1e-6)."""
    n = value / step
    return round(n) >= 1 and abs(n - round(n)) < 1e-6


def _check_times(cfg, v):
    src = cfg.source
    if not _multiple(v.t_end, v.dt):
        raise ConfigError(src, "valley.t_end", f"{v.t_end} ps is not a multiple of dt = {v.dt} ps")
    if v.profiles and (not _multiple(v.profile_dt, v.dt) or not _multiple(v.t_end, v.profile_dt)):
        raise ConfigError(src, "valley.profile_dt", f"{v.profile_dt} ps must be a multiple of dt = {v.dt} ps "
                          f"and divide t_end = {v.t_end} ps")
    if v.t_end / v.dt > 200000:
        raise ConfigError(src, "valley.dt", f"{v.t_end / v.dt:.0f} output times; allowed: at most 200000")
    pulse_end = v.pulse_t0 + 5.0 * v.pulse_fwhm
    if pulse_end >= v.t_end:
        raise ConfigError(src, "valley.pulse_fwhm", f"{v.pulse_fwhm} ps: the pulse (until pulse_t0 + 5 pulse_fwhm "
                          f"= {pulse_end:.4g} ps) must end before t_end = {v.t_end} ps")
    off = v.intervalley_off_after
    if off is not None:
        steps = (v.dt, v.profile_dt) if v.profiles else (v.dt,)
        if off >= v.t_end or off <= pulse_end or not all(_multiple(off, s) for s in steps):
            raise ConfigError(src, "valley.intervalley_off_after",
                              f"{off} ps; allowed: after the pulse (> {pulse_end:.2f} ps), before t_end, "
                              f"a multiple of dt{' and profile_dt' if v.profiles else ''}")


def _material(cfg, v):
    try:
        couplings = phonon_data.valley_couplings(v.material)
        phonons = phonon_data.phonon_params(v.material)
    except materials.UnknownMaterialError as exc:
        raise ConfigError(cfg.source, "valley.material", str(exc)) from None
    try:
        env = materials.environment(v.environment)
    except materials.UnknownMaterialError as exc:
        raise ConfigError(cfg.source, "valley.environment", str(exc)) from None
    names = tuple(v.valleys) or tuple(couplings.valleys)
    for i, name in enumerate(names):
        if name not in couplings.valleys:
            raise ConfigError(cfg.source, f"valley.valleys[{i}]",
                              f"unknown valley {name!r}; allowed: {', '.join(couplings.valleys)}")
    if len(set(names)) != len(names):
        raise ConfigError(cfg.source, "valley.valleys", f"valleys must be unique, got {list(names)}")
    return couplings, phonons, env, names


def _monte_carlo(cfg, v, comm_size):
    """The checked [monte_carlo] section, or None when [valley] monte_carlo is false."""
    if not v.monte_carlo:
        return None
    m, src = cfg.monte_carlo, cfg.source
    if m.particles < m.batches:
        raise ConfigError(src, "monte_carlo.particles", f"{m.particles} particles for {m.batches} batches; "
                          "allowed: at least one particle per batch")
    if comm_size > m.batches:
        raise ConfigError(src, "monte_carlo.batches", f"{m.batches} batches on {comm_size} ranks; allowed: at "
                          "least as many batches as ranks (every rank holds whole batches)")
    if not _multiple(m.dt, v.dt) or not _multiple(v.t_end, m.dt):
        raise ConfigError(src, "monte_carlo.dt", f"{m.dt} ps must be a multiple of [valley] dt = {v.dt} ps "
                          f"and divide t_end = {v.t_end} ps")
    for i, T in enumerate(m.temperatures):
        if not any(abs(T - t) < 1e-9 for t in v.temperatures):
            raise ConfigError(src, f"monte_carlo.temperatures[{i}]", f"{T} K is not among [valley] temperatures "
                              f"{list(v.temperatures)}")
    if v.intervalley_off_after is not None:
        raise ConfigError(src, "valley.intervalley_off_after", "the Monte Carlo (monte_carlo = true) runs with "
                          "all channels throughout; allowed: unset, or monte_carlo = false")
    temps = tuple(float(t) for t in v.temperatures if not m.temperatures
                  or any(abs(t - T) < 1e-9 for T in m.temperatures))
    return McParams(m.particles, m.batches, m.seed, m.dt, temps, m.speeds, m.r_max, m.r_bins)


def params(cfg, comm_size=1):
    """Typed parameters of a validated ``valley`` config; raises ConfigError."""
    v = cfg.valley
    _check_times(cfg, v)
    mc = _monte_carlo(cfg, v, comm_size)
    couplings, phonons, env, names = _material(cfg, v)
    if v.dq > 0.2 or (v.profiles and v.profile_dq > 0.2):
        raise ConfigError(cfg.source, "valley.dq", "cells wider than 0.2 1/nm cannot resolve thermal momenta; "
                          "allowed: dq, profile_dq <= 0.2")
    if any(not math.isfinite(t) for t in v.temperatures):
        raise ConfigError(cfg.source, "valley.temperatures", "temperatures must be finite")
    return Params(material=v.material, environment=env, couplings=couplings, phonons=phonons, valleys=names,
                  temperatures=tuple(float(t) for t in v.temperatures), times_end=v.t_end, dt=v.dt, dq=v.dq,
                  energy_window_kT=v.energy_window_kT, pulse=Pulse(v.pulse_t0, v.pulse_fwhm, v.spot_fwhm),
                  radiative_decay=v.radiative_decay, intervalley_off_after=v.intervalley_off_after,
                  scale_intravalley=v.scale_intravalley, scale_intervalley=v.scale_intervalley,
                  acoustic_split=v.acoustic_split, profiles=v.profiles, profile_dt=v.profile_dt,
                  profile_dq=v.profile_dq, profile_harmonics=v.profile_harmonics,
                  profile_k_nodes=v.profile_k_nodes, profile_k_panels=v.profile_k_panels,
                  profile_r_points=v.profile_r_points, profile_chunk=v.profile_chunk, mc=mc)
