"""Workflow ``scattering``: exciton-phonon scattering tensors, Monte Carlo tables, RTA diffusion.

Config -> states (moiré bands of hpcx.physics.moire, in-process or from a ``moire`` run
file; or the WS2 multi-valley parabolic model) and phonon modes with Wannier form
factors -> coupling terms of the local rows (initial states block-distributed over
ranks) -> self-consistent dephasing (SI Eq. 24) per temperature -> RTA D(T), and CSR
sampling tables at the table temperature -> /results/{states,rates,rta}.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .. import materials
from ..config import Field, Schema, Section
from ..errors import ConfigError
from ..io import RunFile
from ..log import get_logger
from ..materials import UnknownMaterialError
from ..materials.moire import moire_names, moire_system
from ..materials.phonons import multivalley_model, phonon_params
from ..parallel import block_range
from ..physics import moire as mp
from ..physics import phonons as ph
from ..physics import scattering as sc
from ..physics import wannier as wp
from ..physics.screening import stack_from_materials
from ..units import HBAR2_2M0_MEV_NM2, KB_MEV_PER_K

SCATTERING = Section("scattering", (
    Field("model", str, "moire", "states: 'moire' = moiré interlayer exciton bands, 'multivalley' = "
          "parabolic KK, KK', K-Lambda valleys of a monolayer (seed 002)", choices=("moire", "multivalley")),
    Field("input", str, "", "a finished `moire` run file to take the bands from (empty: solve in-process)"),
    Field("system", str, "MoSe2-WSe2/hBN", "moiré system (hpcx/materials/moire.toml)"),
    Field("twist_deg", float, 3.0, "twist angle", unit="deg", minimum=0.0, exclusive=True, maximum=30.0),
    Field("shells", int, 6, "plane-wave shells of the moiré Hamiltonian", minimum=1, maximum=60),
    Field("n_bands", int, 3, "moiré bands kept as states", minimum=1),
    Field("grid", int, 9, "n of the n x n Monkhorst-Pack grid of the mini-BZ", minimum=2, maximum=60),
    Field("material", str, "WS2", "monolayer of the multi-valley model (valleys in hpcx/materials/phonons.toml)"),
    Field("environment", str, "hBN", "dielectric surrounding (both sides) for the form factors"),
    Field("k_max", float, 1.2, "multi-valley k-grid half width", unit="1/nm", minimum=0.0, exclusive=True),
    Field("k_points", int, 14, "n of the n x n k-grid per valley (multi-valley model)", minimum=2, maximum=80),
    Field("temperatures", float, (10.0, 30.0, 70.0, 150.0, 300.0), "temperatures of the RTA curve", unit="K",
          list_of=True, min_items=1, minimum=0.0, exclusive=True),
    Field("table_temperature", float, 70.0, "temperature of the Monte Carlo sampling tables", unit="K",
          minimum=0.0, exclusive=True),
    Field("beta", float, 2.0, "shape of the generalised normal broadening (2 = Gaussian)", minimum=0.5,
          maximum=10.0),
    Field("width_min", float, 0.2, "floor of the broadening HWHM (of the order of the grid's energy spacing); "
          "the multi-valley model raises it to half its grid's energy spacing at k_max/2",
          unit="meV", minimum=0.0, exclusive=True),
    Field("tol", float, 1e-5, "relative residual of the self-consistent dephasing", minimum=0.0, exclusive=True),
    Field("max_iter", int, 300, "iterations of the self-consistent dephasing", minimum=1),
    Field("mixing", float, 0.5, "damping of the self-consistent iteration", minimum=0.0, exclusive=True,
          maximum=1.0),
    Field("detailed_balance", bool, True, "symmetrise the table so that W_if/W_fi = exp(-(E_f-E_i)/kT) exactly"),
    Field("threshold", float, 1e-6, "sampling tables drop W_if below threshold x total rate of the row",
          minimum=0.0, maximum=1.0),
    Field("coupling_cut", float, 1e-3, "moiré terms below this fraction of the mode's largest coupling "
          "are dropped", minimum=0.0, maximum=1.0),
), doc="Exciton-phonon scattering tensor, sampling tables and RTA diffusion.", required=True)

SCHEMA = Schema("scattering", (SCATTERING,),
                doc="Exciton-phonon scattering tensors for moiré (seed 000 SI Eqs. 10-11, 23-24) and "
                    "multi-valley (seed 002) excitons; Monte Carlo tables; RTA diffusion D(T).")


def check(cfg):
    """Semantic checks needing the material data; raises ConfigError."""
    s = cfg.scattering
    if s.model == "moire" and not s.input:
        try:
            moire_system(s.system)
        except UnknownMaterialError:
            raise ConfigError(cfg.source, "scattering.system", f"unknown moire system {s.system!r}; "
                              f"known: {', '.join(moire_names())}") from None
        n_g = len(mp.plane_wave_basis(mp.MoireGeometry(1.0, 1.0, 0.1), s.shells)[0])
        if s.n_bands > n_g:
            raise ConfigError(cfg.source, "scattering.n_bands", f"more than the {n_g} plane waves of "
                              f"{s.shells} shells")
    if s.model == "multivalley":
        try:
            multivalley_model(s.material)
            phonon_params(s.material)
        except UnknownMaterialError as exc:
            raise ConfigError(cfg.source, "scattering.material", str(exc)) from None
    _stack(cfg, ["MoSe2", "WSe2"] if s.model == "moire" else [s.material])


def _stack(cfg, layers):
    """(stack, TMDs, heterostructure) of ``layers`` with the environment on both sides."""
    env = cfg.scattering.environment
    try:
        tmds = [materials.tmd(name) for name in layers]
        environment = materials.environment(env)
    except materials.UnknownMaterialError as exc:
        raise ConfigError(cfg.source, "scattering.environment", str(exc)) from None
    hetero = materials.find_heterostructure(*layers) if len(layers) == 2 else None
    distance = hetero.interlayer_distance_nm if hetero is not None else None
    return stack_from_materials(tmds, environment, environment, "slab", distance), tmds, hetero


def _form_factor(stack, m_e, m_h, e_layer, h_layer):
    """Interpolated 1s form factor F(|p|) (p in 1/nm) and the binding energy (meV)."""
    res = wp.solve_wannier(m_e * m_h / (m_e + m_h), lambda q: stack.epsilon(q, e_layer, h_layer), ("1s",))
    q = np.linspace(0.0, 60.0, 6001)
    F = res.form_factor("1s", q)
    return (lambda p: np.interp(p, q, F, right=0.0)), float(res.binding_energy_meV[0])


def _moire_states(cfg, log):
    s = cfg.scattering
    if s.input:
        with RunFile(s.input, expect_workflow="moire") as f:
            read = lambda name: f.read(name)[0]  # noqa: E731
            Q, E = read("results/bands/grid_Q"), read("results/bands/grid_energy")
            vec, vel = read("results/bands/grid_vectors"), read("results/bands/grid_velocity")
            sint, basis = read("results/basis/s"), read("results/geometry/reciprocal_vectors")[:2]
            area = float(read("results/geometry/cell_area"))
            theta = float(read("results/geometry/theta_deg"))
            name = str(f.file["results"].attrs["system"])
        system = moire_system(name)
        log.info("bands from %s: %s at %.3f deg, %d Q x %d bands", s.input, name, theta, *E.shape)
        return system, Q, E, vec, vel, sint, basis, area
    system = moire_system(s.system)
    geo = mp.MoireGeometry.from_degrees(system.a_electron_nm, system.a_hole_nm, s.twist_deg)
    ham = mp.MoireHamiltonian(geo, mp.MoirePotential.from_ab(system.A_meV, system.B_meV),
                              system.exciton_mass, s.shells)
    Q, _ = geo.monkhorst_pack(s.grid)
    b = ham.solve(Q, s.n_bands)
    log.info("%s at %.3f deg: a_M = %.3f nm, %d Q x %d bands, %d plane waves", system.name, s.twist_deg,
             geo.period_nm, len(Q), s.n_bands, ham.n_g)
    return system, Q, b.energy, b.vectors, b.velocity, ham.s, geo.reciprocal_basis, geo.cell_area_nm2


def states(cfg, log):
    """States and coupling ingredients, identical on every rank (no communication).

    Returns SimpleNamespace(E [n] meV, v [n, 2] nm/ps, weight [n], labels dict, info dict,
    terms(start, stop) -> :class:`hpcx.physics.scattering.Terms` of rows [start, stop)).
    """
    s = cfg.scattering
    if s.model == "moire":
        system, Q, E, vec, vel, sint, basis, area = _moire_states(cfg, log)
        stack, tmds, _ = _stack(cfg, [system.electron_layer, system.hole_layer])
        m_e, m_h = tmds[0].m_e, tmds[1].m_h
        F, eb = _form_factor(stack, m_e, m_h, 0, 1)
        modes = (sc.layer_modes(phonon_params(system.electron_layer), "e")
                 + sc.layer_modes(phonon_params(system.hole_layer), "h"))
        n_b = E.shape[1]
        labels = dict(band=np.tile(np.arange(n_b), len(Q)), Q=np.repeat(Q, n_b, axis=0))
        info = dict(binding_energy=eb, modes=[m.name for m in modes], m_e=m_e, m_h=m_h)

        def terms(start, stop):
            return sc.moire_terms(Q, E, vec, sint, basis, area, modes, F, m_e, m_h, start, stop,
                                  coupling_cut=s.coupling_cut)
        return SimpleNamespace(E=E.reshape(-1), v=vel.reshape(-1, 2), weight=np.ones(E.size), labels=labels,
                               info=info, terms=terms)
    valleys = multivalley_model(s.material)
    par = phonon_params(s.material)
    stack, _, _ = _stack(cfg, [s.material])
    kk = valleys[next(iter(valleys))]
    F, eb = _form_factor(stack, kk.m_e, kk.m_h, 0, 0)
    grid = ph.multivalley_grid(valleys, s.k_max, s.k_points)
    chans = ph.multivalley_channels(grid, par, F, _intervalley(par, grid.names))
    info = dict(binding_energy=eb, modes=[c.name for c in chans], valleys=list(grid.names))
    return SimpleNamespace(E=grid.E, v=grid.v, weight=np.full(len(grid.E), grid.weight),
                           labels=dict(valley=grid.valley, k=grid.k), info=info,
                           terms=lambda start, stop: sc.channel_terms(chans, start, stop))


def build(cfg, comm, log):
    """(E [n] meV, v [n, 2] nm/ps, weight [n], labels dict, Terms of the local rows, info dict)."""
    st = states(cfg, log)
    start, stop = block_range(len(st.E), comm.size, comm.rank)
    return st.E, st.v, st.weight, st.labels, st.terms(start, stop), st.info


def _intervalley(par, names):
    """Intervalley phonons of seed 002's model: K-K' (K phonons), K-Lambda and K'-Lambda (Q phonons)."""
    kkp = [(par.E_KKp_ac, par.D0_KKp_ac_e), (par.E_KKp_op, par.D0_KKp_op_e)]
    kq = [(par.E_KQ_ac, par.D0_KQ_ac_e), (par.E_KQ_op, par.D0_KQ_op_e)]
    out = {}
    if "KK" in names and "KKp" in names:
        out[("KK", "KKp")] = kkp
    for a in ("KK", "KKp"):
        if a in names and "KL" in names:
            out[(a, "KL")] = kq
    return out


def broadening_floor(s):
    """Floor of the broadening HWHM (meV): ``width_min``, and for the multi-valley model at least
    half the grid's energy spacing hbar^2 k dk / M at k = k_max / 2 of the lightest valley.

    The parabolic valleys' energy spacing on a k-grid (~10 meV for the defaults) is far above
    acoustic phonon energies; with a narrower broadening energy conservation finds no final
    state for whole rings of states, whose out-rates then collapse to ~1e-11 1/ps.
    """
    if s.model != "multivalley":
        return s.width_min
    M = min(val.m_e + val.m_h for val in multivalley_model(s.material).values())
    dk = 2.0 * s.k_max / s.k_points
    return max(s.width_min, 0.5 * HBAR2_2M0_MEV_NM2 * s.k_max * dk / M)


def table(E, terms, T, s, comm, log):
    """(W local rows [n_loc, n] 1/ps, gamma [n] meV) at T, self-consistent and (optionally) symmetrised."""
    width = broadening_floor(s)
    gamma, it, res = sc.self_consistent_gamma(E, terms, T, s.beta, width, s.tol, s.max_iter, s.mixing,
                                              comm)
    log.info("T = %6.1f K: self-consistent dephasing in %d iterations, residual %.2e, Gamma %.3f..%.3f meV",
             T, it, res, gamma.min(), gamma.max())
    W, Wb = sc.rates(E, terms, T, gamma, s.beta, width, reverse=True)
    if s.detailed_balance:
        W = sc.detailed_balance(W, Wb, E, terms.start, T)
    return W, gamma, it, res


def _gather(a, comm):
    return np.concatenate(comm.allgather(np.asarray(a)))


def run(cfg, writer, comm, timer):
    log = get_logger("scattering")
    s = cfg.scattering
    with timer.phase("terms"):
        E, v, weight, labels, terms, info = build(cfg, comm, log)
        n_terms = int(sum(comm.allgather(terms.n_terms)))
        log.info("%s model: %d states, rows split over %d rank(s), %d coupling terms; modes %s",
                 s.model, len(E), comm.size, n_terms, ", ".join(info["modes"]))

    temps = sorted(set(float(t) for t in s.temperatures))
    D, v2, tau_eff, iters = [], [], [], []
    with timer.phase("rta"):
        for T in temps:
            W, _, it, _ = table(E, terms, T, s, comm, log)
            tau = 1.0 / _gather(W.sum(axis=1), comm)
            d, a, b = sc.rta_curve(E, v, tau, T, weight)
            D.append(d), v2.append(a), tau_eff.append(b), iters.append(it)
            log.info("T = %6.1f K: D_RTA = %.4g cm^2/s, v2_eff = %.4g nm^2/ps^2, tau_eff = %.4g ps",
                     T, d, a, b)

    with timer.phase("table"):
        T = s.table_temperature
        W, gamma, it, res = table(E, terms, T, s, comm, log)
        tab = sc.sampling_table(W, s.threshold)
        counts = comm.allgather(int(tab["counts"].sum()))
        nnz_offset, nnz = int(sum(counts[:comm.rank])), int(sum(counts))
        indptr = np.concatenate([[0], np.cumsum(_gather(tab["counts"], comm))])
        dropped_all = _gather(tab["dropped"], comm)
        log.info("tables at %.1f K: %d entries (%.1f per state), dropped rate fraction max %.2e mean %.2e",
                 T, nnz, nnz / len(E), dropped_all.max(), dropped_all.mean())

    with timer.phase("write"):
        _write(writer, s, E, v, weight, labels, info, terms, tab, indptr, nnz, nnz_offset, gamma, it, res,
               temps, D, v2, tau_eff, iters)


def _write(writer, s, E, v, weight, labels, info, terms, tab, indptr, nnz, nnz_offset, gamma, it, res,
           temps, D, v2, tau_eff, iters):
    n = len(E)
    writer.group("results", attrs={"model": s.model, "binding_energy_1s_meV": info["binding_energy"],
                                   "modes": info["modes"]})
    r = "results/rates"
    writer.group(r, attrs={"temperature_K": s.table_temperature, "beta": s.beta, "width_min_meV": s.width_min,
                           "width_floor_meV": broadening_floor(s),
                           "detailed_balance": s.detailed_balance, "threshold": s.threshold,
                           "iterations": it, "residual": res, "n_states": n, "nnz": nnz})
    writer.write(f"{r}/energy", E, units="meV", attrs={"shape": "[n_state]"})
    writer.write(f"{r}/velocity", v, units="nm/ps", attrs={"shape": "[n_state, xy]"})
    writer.write(f"{r}/weight", weight, units="" if s.model == "moire" else "1/nm^2",
                 attrs={"definition": "state measure of the Boltzmann average"})
    if s.model == "moire":
        writer.write(f"{r}/band", labels["band"], units="", attrs={"definition": "state i = iQ * n_bands + band"})
        writer.write(f"{r}/Q", labels["Q"], units="1/nm")
    else:
        writer.write(f"{r}/valley", labels["valley"], units="", attrs={"names": info["valleys"]})
        writer.write(f"{r}/k", labels["k"], units="1/nm")
    writer.write_distributed(f"{r}/total_rate", tab["total_rate"], terms.start, (n,), units="1/ps",
                             attrs={"definition": "sum_f W_if (all final states); tau = 1/total_rate"})
    writer.write(f"{r}/gamma", gamma, units="meV", attrs={"definition": "self-consistent dephasing, SI Eq. 24"})
    writer.write_distributed(f"{r}/dropped", tab["dropped"], terms.start, (n,), units="",
                             attrs={"definition": "fraction of total_rate below the threshold, not in the table"})
    writer.write(f"{r}/indptr", indptr, units="", attrs={"definition": "CSR row pointer, [n_state + 1]"})
    writer.write_distributed(f"{r}/indices", tab["indices"], nnz_offset, (nnz,), units="",
                             attrs={"definition": "final state of each entry"})
    writer.write_distributed(f"{r}/cumulative", tab["cumulative"], nnz_offset, (nnz,), units="",
                             attrs={"definition": "cumulative probability within the row, last = 1; "
                                                  "W_if = diff(cumulative) total_rate (1 - dropped)"})
    t = "results/rta"
    writer.group(t, attrs={"definition": "relaxation-time approximation, Boltzmann distribution, SI Eq. 23"})
    writer.write(f"{t}/temperature", np.array(temps), units="K")
    writer.write(f"{t}/diffusion", np.array(D), units="cm^2/s")
    writer.write(f"{t}/v2_eff", np.array(v2), units="nm^2/ps^2", attrs={"definition": "sum_i N_i |v_i|^2"})
    writer.write(f"{t}/tau_eff", np.array(tau_eff), units="ps", attrs={"definition": "sum_i N_i tau_i"})
    writer.write(f"{t}/iterations", np.array(iters), units="", attrs={"definition": "SI Eq. 24 iterations"})
    writer.write(f"{t}/kT", KB_MEV_PER_K * np.array(temps), units="meV")
