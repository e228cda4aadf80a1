"""Workflow ``biexciton``: moiré-trapped single excitons and repulsive biexcitons (seed 003).

Config -> moiré system (hpcx/materials/moire.toml), dipole length and eps_r
(hpcx/materials/biexciton.toml) -> harmonic trap from the moiré potential ->
relative motion with the dipolar repulsion (basis convergence checked) ->
sweeps distributed over MPI ranks (each item computed whole on one rank, so
results do not depend on the number of ranks): repulsion energy over
(eps_r, theta), decay amplitudes over the biexciton states, lifetime ratio over
dipole scales, PL over (T_eff, filling) ->
/results/{trap,single,biexciton,repulsion,pl,lifetime_ratio}.
"""

from __future__ import annotations

import numpy as np

from ..config import Field, Schema, Section
from ..errors import ConfigError, ConvergenceError
from ..log import get_logger
from ..materials import UnknownMaterialError, _entry, _table, heterostructure
from ..materials.moire import moire_system
from ..parallel import allgather_blocks, local_items
from ..physics import biexciton as bx
from ..physics import moire as mp
from ..physics import oscillator as osc

_FILE = "biexciton.toml"

BIEXCITON = Section("biexciton", (
    Field("system", str, "MoSe2-WSe2/hBN", "trapped-exciton system (hpcx/materials/biexciton.toml): moiré "
          "system, heterostructure (dipole length d) and eps_r"),
    Field("twist_deg", float, 1.0, "twist angle of the spectra, decay amplitudes, PL and lifetime ratio",
          unit="deg", minimum=0.0, exclusive=True, maximum=3.0),
    Field("twist_scan", float, (0.5, 0.6, 0.7, 0.8, 0.9, 1.0), "twist angles of the repulsion scan",
          unit="deg", list_of=True, minimum=0.0, exclusive=True, maximum=3.0),
    Field("epsilon", float, None, "override of eps_r of Eq. 27 (default: material data)", minimum=0.0,
          exclusive=True),
    Field("epsilon_scan", float, (), "eps_r values of the environment scan (empty: the system's eps_r only)",
          list_of=True, minimum=0.0, exclusive=True),
    Field("dipole_length", float, None, "override of the dipole length d of Eq. 27 (default: interlayer "
          "distance of the heterostructure)", unit="nm", minimum=0.0),
    Field("include_mismatch", bool, True, "use both layers' lattice constants for a_M (false: a_M = a/theta "
          "as seed 003)"),
    Field("n_radial", int, 80, "relative-motion oscillator functions per l_r (Eq. 33 basis size)",
          minimum=8, maximum=400),
    Field("lifetime_n_radial", int, 240, "relative-motion basis of the lifetime-ratio scan (small dipoles "
          "converge slowly: the repulsive core is then much narrower than the trap)", minimum=8, maximum=1000),
    Field("convergence_tol", float, 0.1, "largest allowed change of Delta_xx from n_radial/2 to n_radial "
          "basis functions", unit="meV", minimum=0.0, exclusive=True),
    Field("window", int, 10, "states kept: single excitons with N <= window quanta, biexcitons within "
          "window * hbar omega0 of their ground state", minimum=2, maximum=24),
    Field("fillings", float, (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75), "filling factors (excitons per "
          "moiré cell) of the PL; 0 < f < 2", list_of=True, min_items=1, minimum=0.0, exclusive=True),
    Field("temperatures", float, (30.0, 300.0), "effective exciton temperatures of the PL", unit="K",
          list_of=True, min_items=1, minimum=0.0, exclusive=True),
    Field("pl_min", float, -1.5, "lowest PL photon energy, in hbar omega0 above the trap bottom -U0"),
    Field("pl_max", float, 4.0, "highest PL photon energy, in hbar omega0 above the trap bottom -U0"),
    Field("pl_points", int, 551, "PL energy grid points", minimum=2, maximum=100000),
    Field("linewidth", float, 1.0, "Lorentzian half width of every PL line", unit="meV", minimum=0.0,
          exclusive=True),
    Field("dipole_scales", float, (0.0, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0), "factors on d for "
          "the lifetime ratio curve zeta(Delta_xx/hbar omega0) (Fig. 4c)", list_of=True, minimum=0.0),
), doc="Moiré-trapped single and biexcitons: trap, dipolar repulsion, decay, PL, lifetimes.", required=True)

SCHEMA = Schema("biexciton", (BIEXCITON,),
                doc="Moiré-trapped single excitons and repulsive biexcitons: repulsion energy vs twist and "
                    "dielectric environment, PL vs filling, lifetime ratio (seed 003 Eqs. 21-47).")


# -- configuration -------------------------------------------------------------------

def _material(cfg):
    """(name, moire system, heterostructure, eps_r, sources) of ``biexciton.system``."""
    name = cfg.biexciton.system
    try:
        values, sources = _entry(_FILE, "biexciton system", name)
        return name, moire_system(values["moire_system"]), heterostructure(values["heterostructure"]), \
            values["eps_r"], sources
    except UnknownMaterialError as exc:
        known = ", ".join(sorted(_table(_FILE)))
        raise ConfigError(cfg.source, "biexciton.system", f"{exc}; known systems: {known}") from None


def check(cfg):
    """Semantic checks before any computation; raises ConfigError."""
    b = cfg.biexciton
    _material(cfg)
    bad = [f for f in b.fillings if not f < 2.0]
    if bad:
        raise ConfigError(cfg.source, "biexciton.fillings", f"{bad[0]!r} is not allowed: a trap holds at most "
                          "two excitons in this model (seed 003: I = I^(1) + I^(2)), so 0 < filling < 2")
    for key, values in (("biexciton.twist_scan", b.twist_scan), ("biexciton.fillings", b.fillings),
                        ("biexciton.temperatures", b.temperatures), ("biexciton.epsilon_scan", b.epsilon_scan),
                        ("biexciton.dipole_scales", b.dipole_scales)):
        if len(set(values)) != len(values):
            raise ConfigError(cfg.source, key, "values must be distinct")
    if not b.pl_min < b.pl_max:
        raise ConfigError(cfg.source, "biexciton.pl_max", f"{b.pl_max!r} must exceed pl_min = {b.pl_min!r}")


def _model(cfg):
    """dict(system, moire, d, eps, mass, potential) with overrides applied."""
    b = cfg.biexciton
    name, moire, hetero, eps, sources = _material(cfg)
    return dict(name=name, moire=moire, sources=sources, mass=moire.exciton_mass,
                potential=mp.MoirePotential.from_ab(moire.A_meV, moire.B_meV),
                d=hetero.interlayer_distance_nm if b.dipole_length is None else b.dipole_length,
                eps=eps if b.epsilon is None else b.epsilon,
                eps_list=tuple(b.epsilon_scan) or ((eps if b.epsilon is None else b.epsilon),))


def _trap(model, cfg, theta_deg):
    moire = model["moire"]
    a2 = moire.a_hole_nm if cfg.biexciton.include_mismatch else moire.a_electron_nm
    geo = mp.MoireGeometry.from_degrees(moire.a_electron_nm, a2, theta_deg)
    return geo, bx.harmonic_trap(geo, model["potential"], model["mass"])


# -- sweep items (each computed whole on one rank) --------------------------------------

def _repulsion_item(model, cfg, eps, theta):
    """(hbar omega0, U0, a_M, Delta_xx, Delta_xx(n) - Delta_xx(n/2))."""
    n = cfg.biexciton.n_radial
    geo, trap = _trap(model, cfg, theta)
    full = bx.delta_xx(trap, model["d"], eps, n)
    return trap.hbar_omega0, trap.u0, geo.period_nm, full, full - bx.delta_xx(trap, model["d"], eps, n // 2)


def _lifetime_item(model, cfg, trap, scale):
    """(Delta_xx, change with n/2, zeta) of the ground states at dipole length scale * d."""
    n = cfg.biexciton.lifetime_n_radial
    d = scale * model["d"]
    rel = bx.solve_relative(trap, d, model["eps"], n, [0])
    dxx = float(rel.energies[0][0] - trap.hbar_omega0)
    change = dxx - bx.delta_xx(trap, d, model["eps"], n // 2)
    bright = bx.fock_brightness(trap, n)
    decay = bx.decay_by_level(0, 0, 0, rel.coefficients[0][:, 0], bright)
    return dxx, change, bx.lifetime_ratio(bright[:, 0, 0], decay)


def _line_groups(singles, strength, states, decay):
    """Degenerate states merged: (first single of each level [k1], strength per level [k1],
    first biexciton of each energy [k2], decay per energy and final level [k2, n_levels]).

    Degenerate states have bitwise equal energies (same quanta, same relative level)
    and hence equal occupations, so their lines can be summed before broadening.
    """
    _, first1, inv1 = np.unique(singles.quanta, return_index=True, return_inverse=True)
    s1 = np.zeros(len(first1))
    np.add.at(s1, inv1, strength.sum(axis=1))
    _, first2, inv2 = np.unique(np.round(states.energy, 9), return_index=True, return_inverse=True)
    g2 = np.zeros((len(first2), decay.shape[2]))
    np.add.at(g2, inv2, decay.sum(axis=1))
    return first1, s1, first2, g2


def _pl_item(temperature, filling, singles, states, groups, trap, energy, hwhm):
    """(mu, [P0, P1, P2], I_single [n_E], I_biexciton [n_E], top) at one (T_eff, filling).

    ``top``: probability in the highest shell kept (truncation measure).
    """
    e1, e2 = singles.energy, states.energy
    first1, s1, first2, g2 = groups
    mu = bx.chemical_potential(filling, e1, e2, temperature)
    p0, p1, p2 = bx.occupations(mu, e1, e2, temperature)
    i1 = bx.lorentzian_spectrum(energy, e1[first1], s1 * p1[first1], hwhm)
    level_energy = trap.single_energy(np.arange(g2.shape[1]))
    line_e = (e2[first2][:, None] - level_energy[None, :]).ravel()
    line_w = (g2 * p2[first2][:, None]).ravel()
    keep = line_w > 0.0
    i2 = bx.lorentzian_spectrum(energy, line_e[keep], line_w[keep], hwhm)
    window = singles.quanta.max()
    top = p1[singles.quanta == window].sum() + p2[e2 - e2[0] > (window - 1) * trap.hbar_omega0].sum()
    return mu, (p0, p1.sum(), p2.sum()), i1, i2, top


def _check_converged(changes, tol, what):
    worst = float(np.max(np.abs(changes)))
    if worst > tol:
        raise ConvergenceError(f"{what}: |Delta_xx(n_radial) - Delta_xx(n_radial/2)| = {worst:.3g} meV exceeds "
                               f"convergence_tol = {tol:g} meV; raise biexciton.n_radial")


def run(cfg, writer, comm, timer):
    log = get_logger("biexciton")
    b = cfg.biexciton
    model = _model(cfg)

    with timer.phase("trap"):
        geo, trap = _trap(model, cfg, b.twist_deg)
        log.info("%s at %.3f deg: a_M = %.3f nm, U0 = %.3f meV, hbar omega0 = %.3f meV (Eq. 22: %.3f meV), "
                 "d = %.4g nm, eps_r = %g", model["name"], b.twist_deg, geo.period_nm, trap.u0, trap.hbar_omega0,
                 mp.harmonic_frequency_meV(geo, model["potential"], model["mass"]), model["d"], model["eps"])

    with timer.phase("relative"):
        l_values = list(range(0, b.window + 1, 2))
        rel = bx.solve_relative(trap, model["d"], model["eps"], b.n_radial, l_values)
        dxx = float(rel.energies[0][0] - trap.hbar_omega0)
        change = dxx - bx.delta_xx(trap, model["d"], model["eps"], b.n_radial // 2)
        _check_converged([change], b.convergence_tol, f"{b.twist_deg} deg")
        log.info("Delta_xx = %.4f meV = %.4f hbar omega0 (n_radial %d; change from n_radial/2: %.2g meV)",
                 dxx, dxx / trap.hbar_omega0, b.n_radial, change)
        singles = bx.single_states(trap, b.window)
        strength = np.array([[abs(bx.optical_matrix_element(trap, n, l, s)) ** 2 for s in bx.SIGMAS]
                             for n, l in zip(singles.n, singles.l)])
        states = bx.biexciton_states(trap, rel, b.window)

    with timer.phase("repulsion"):
        items = [(e, t) for e in model["eps_list"] for t in b.twist_scan]
        _, mine = local_items(items, comm)
        rows = np.array(allgather_blocks([_repulsion_item(model, cfg, e, t) for e, t in mine], comm))
        rows = rows.reshape(len(model["eps_list"]), len(b.twist_scan), 5)
        _check_converged(rows[..., 4], b.convergence_tol, "repulsion scan")
        for i, eps in enumerate(model["eps_list"]):
            log.info("eps_r = %g: Delta_xx = %s meV at theta = %s deg", eps, np.round(rows[i, :, 3], 3),
                     list(b.twist_scan))

    with timer.phase("decay"):
        m_max = bx.brightness_grid_size(b.window, b.window, b.n_radial)
        bright = bx.fock_brightness(trap, m_max)
        _, mine = local_items(range(len(states)), comm)
        local = [bx.decay_by_level(states.n_c[i], states.l_c[i], states.l_r[i],
                                   rel.coefficients[abs(states.l_r[i])][:, states.nu_r[i]], bright)
                 for i in mine]
        decay = np.array(allgather_blocks(local, comm))                     # [n2, 2, n_levels]
        n_levels = int(np.nonzero(decay.sum(axis=(0, 1)))[0].max()) + 1
        decay = decay[:, :, :n_levels]
        zeta = bx.lifetime_ratio(strength[0], decay[0])
        log.info("%d biexciton states within %d hbar omega0; zeta = tau_xx/tau_x = %.4f", len(states), b.window, zeta)

    with timer.phase("lifetime"):
        _, mine = local_items(b.dipole_scales, comm)
        life = np.array(allgather_blocks([_lifetime_item(model, cfg, trap, s) for s in mine], comm)).reshape(-1, 3)
        _check_converged(life[:, 1], b.convergence_tol, "lifetime-ratio scan")

    with timer.phase("pl"):
        energy = -trap.u0 + trap.hbar_omega0 * np.linspace(b.pl_min, b.pl_max, b.pl_points)
        groups = _line_groups(singles, strength, states, decay)
        items = [(t, f) for t in b.temperatures for f in b.fillings]
        _, mine = local_items(items, comm)
        pl = allgather_blocks([_pl_item(t, f, singles, states, groups, trap, energy, b.linewidth)
                               for t, f in mine], comm)
        top_weight = float(max(item[4] for item in pl))
        log.info("PL at %d (T_eff, filling) points; largest probability in the top shell N = %d: %.2g",
                 len(items), b.window, top_weight)

    with timer.phase("write"):
        _write(writer, cfg, model, geo, trap, rel, dxx, change, singles, strength, states, decay, zeta, rows,
               life, energy, pl, top_weight)


def _write(writer, cfg, model, geo, trap, rel, dxx, change, singles, strength, states, decay, zeta, rows,
           life, energy, pl, top_weight):
    b = cfg.biexciton
    zero = "energies relative to the free interlayer exciton (no moiré potential); the trap bottom is at -u0"
    writer.group("results", attrs={"system": model["name"], "twist_deg": b.twist_deg, "epsilon_r": model["eps"],
                                   "dipole_length_nm": model["d"], "exciton_mass_m0": model["mass"],
                                   "energy_zero": zero, "source_eps_r": model["sources"]["eps_r"],
                                   "source_dipole_length": model["sources"]["heterostructure"]})
    t = "results/trap"
    writer.group(t)
    writer.write(f"{t}/hbar_omega0", trap.hbar_omega0, units="meV",
                 attrs={"definition": "hbar sqrt(k/m), k = curvature of M(r) at its minimum (Eqs. 21-22)"})
    writer.write(f"{t}/hbar_omega0_eq22", mp.harmonic_frequency_meV(geo, model["potential"], model["mass"]),
                 units="meV", attrs={"definition": "hbar (2 pi/a_M) sqrt(2 U0/(3 m_x)), seed 003 Eq. 22"})
    writer.write(f"{t}/u0", trap.u0, units="meV", attrs={"definition": "U0 = -M(r_min)"})
    writer.write(f"{t}/kappa", trap.kappa, units="1/nm", attrs={"definition": "sqrt(m_x omega0/hbar)"})
    writer.write(f"{t}/period", geo.period_nm, units="nm")
    writer.write(f"{t}/minimum", trap.minimum, units="nm")
    writer.write(f"{t}/light_momentum", trap.light, units="1/nm", attrs={"definition": "K_c - K_v"})

    s = "results/single"
    writer.group(s, attrs={"window": b.window})
    writer.write(f"{s}/energy", singles.energy, units="meV", attrs={"definition": "hbar omega0 (2n+|l|+1) - U0"})
    writer.write(f"{s}/n", singles.n, units="")
    writer.write(f"{s}/l", singles.l, units="")
    writer.write(f"{s}/quanta", singles.quanta, units="", attrs={"definition": "N = 2n + |l|"})
    writer.write(f"{s}/oscillator_strength", strength, units="nm^2",
                 attrs={"shape": "[n_single, 2 (sigma = +1, -1)]", "definition": "|g_sigma(nu)/g0|^2, Eqs. 36-40"})
    writer.write(f"{s}/sigma", np.array(bx.SIGMAS), units="")

    x = "results/biexciton"
    writer.group(x, attrs={"n_radial": b.n_radial, "window": b.window})
    writer.write(f"{x}/energy", states.energy, units="meV",
                 attrs={"definition": "E^(c) + E^(r) - 2 U0 (Eq. 35 ff.)"})
    for key in ("n_c", "l_c", "nu_r", "l_r"):
        writer.write(f"{x}/{key}", getattr(states, key), units="")
    writer.write(f"{x}/delta_xx", dxx, units="meV", attrs={"definition": "E^(2)_0 - 2 E^(1)_0"})
    writer.write(f"{x}/delta_xx_change", change, units="meV",
                 attrs={"definition": "Delta_xx(n_radial) - Delta_xx(n_radial/2)"})
    writer.write(f"{x}/decay_rate", decay.sum(axis=2), units="nm^2",
                 attrs={"shape": "[n_biexciton, 2 (sigma)]", "definition": "sum_nu1 Gamma^sigma_(nu nu1) / |g0|^2"})
    writer.write(f"{x}/decay_levels", decay.sum(axis=1), units="nm^2",
                 attrs={"shape": "[n_biexciton, n_levels]",
                        "definition": "sum over sigma and final states of N1 quanta of Gamma^sigma_(nu nu1)"})
    writer.write(f"{x}/lifetime_ratio", zeta, units="", attrs={"definition": "Eq. 47 at d, eps_r"})
    l_keep = sorted(rel.energies)
    k = min(len(v) for v in rel.energies.values())
    k = min(k, 8)
    writer.write(f"{x}/relative_l", np.array(l_keep), units="")
    writer.write(f"{x}/relative_energy", np.array([rel.energies[l][:k] for l in l_keep]), units="meV",
                 attrs={"shape": "[n_l, 8]", "definition": "E^(r) of the lowest states per |l_r|"})
    r, parts, psi, psi0 = _relative_profile(trap, rel, model)
    writer.write(f"{x}/relative_r", r, units="nm")
    writer.write(f"{x}/relative_potential", parts, units="meV",
                 attrs={"shape": "[3 (trap m w^2 r^2/4, dipolar V(r), sum), n_r]"})
    writer.write(f"{x}/relative_density", np.array([psi, psi0]), units="1/nm^2",
                 attrs={"shape": "[2 (interacting, V = 0), n_r]", "definition": "|psi_(0,0)(r)|^2 of Eq. 33"})

    r_ = "results/repulsion"
    writer.group(r_, attrs={"n_radial": b.n_radial})
    writer.write(f"{r_}/theta_deg", np.array(b.twist_scan, dtype=float), units="deg")
    writer.write(f"{r_}/epsilon", np.array(model["eps_list"], dtype=float), units="")
    writer.write(f"{r_}/hbar_omega0", rows[0, :, 0], units="meV")
    writer.write(f"{r_}/u0", rows[0, :, 1], units="meV")
    writer.write(f"{r_}/period", rows[0, :, 2], units="nm")
    writer.write(f"{r_}/delta_xx", rows[:, :, 3], units="meV", attrs={"shape": "[n_epsilon, n_theta]"})
    writer.write(f"{r_}/delta_xx_change", rows[:, :, 4], units="meV",
                 attrs={"definition": "Delta_xx(n_radial) - Delta_xx(n_radial/2)"})

    p = "results/pl"
    writer.group(p, attrs={"linewidth_meV": b.linewidth, "top_shell_probability": top_weight})
    shape = (len(b.temperatures), len(b.fillings))
    i1 = np.array([item[2] for item in pl]).reshape(shape + (-1,))
    i2 = np.array([item[3] for item in pl]).reshape(shape + (-1,))
    writer.write(f"{p}/energy", energy, units="meV", attrs={"energy_zero": zero})
    writer.write(f"{p}/filling", np.array(b.fillings, dtype=float), units="")
    writer.write(f"{p}/temperature", np.array(b.temperatures, dtype=float), units="K")
    writer.write(f"{p}/intensity", i1 + i2, units="nm^2/meV",
                 attrs={"shape": "[n_T, n_filling, n_E]", "definition": "I^(1) + I^(2) summed over sigma, / |g0|^2"})
    writer.write(f"{p}/intensity_single", i1, units="nm^2/meV")
    writer.write(f"{p}/intensity_biexciton", i2, units="nm^2/meV")
    writer.write(f"{p}/chemical_potential", np.array([item[0] for item in pl]).reshape(shape), units="meV")
    writer.write(f"{p}/probability", np.array([item[1] for item in pl]).reshape(shape + (3,)), units="",
                 attrs={"shape": "[n_T, n_filling, 3 (0, 1, 2 excitons)]"})

    lt = "results/lifetime_ratio"
    writer.group(lt)
    scales = np.array(b.dipole_scales, dtype=float)
    writer.write(f"{lt}/dipole_scale", scales, units="")
    writer.write(f"{lt}/dipole_length", scales * model["d"], units="nm")
    writer.write(f"{lt}/delta_xx", life[:, 0], units="meV")
    writer.write(f"{lt}/delta_xx_change", life[:, 1], units="meV")
    writer.write(f"{lt}/x", life[:, 0] / trap.hbar_omega0, units="", attrs={"definition": "Delta_xx/hbar omega0"})
    writer.write(f"{lt}/zeta", life[:, 2], units="", attrs={"definition": "tau^(2)_0/tau^(1)_0, Eq. 47"})


def _relative_profile(trap, rel, model, points=301):
    """Fig. 2a: r (nm), [trap, V, sum] (meV), |psi|^2 interacting and free (1/nm^2)."""
    kr = trap.kappa / np.sqrt(2.0)
    r = np.linspace(0.0, 5.0 / kr, points + 1)[1:]
    trap_part = 0.5 * trap.hbar_omega0 * (kr * r) ** 2                # m w^2 r^2/4 = hbar w (kappa_r r)^2/2
    dip = bx.dipolar_repulsion(r, model["d"], model["eps"])
    c = rel.coefficients[0][:, 0]
    prof = sum(ci * osc.radial_profile(n, 0, kr * r) for n, ci in enumerate(c))
    psi = (kr**2 / np.pi) * prof**2
    psi0 = (kr**2 / np.pi) * osc.radial_profile(0, 0, kr * r) ** 2
    return r, np.array([trap_part, dip, trap_part + dip]), psi, psi0


# -- figures ----------------------------------------------------------------------------

def plot(run, stem):
    """Fig. 2a/2b, 3b, 4a/b and 4c analogues of seed 003; returns the PNG paths."""
    from ..plotting import _pyplot, _save
    plt = _pyplot()
    read = lambda name: run.read(f"results/{name}")[0]  # noqa: E731
    hw, u0 = float(read("trap/hbar_omega0")), float(read("trap/u0"))
    out = []

    theta, eps = read("repulsion/theta_deg"), read("repulsion/epsilon")
    dxx, w0 = read("repulsion/delta_xx"), read("repulsion/hbar_omega0")
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    ax.plot(theta, w0, "k--", label=r"$\hbar\omega_0$")
    for i, e in enumerate(eps):
        ax.plot(theta, dxx[i], "o-", ms=3, label=rf"$\Delta_{{xx}}$, $\varepsilon_r$ = {e:g}")
        ax2.plot(theta, dxx[i] / w0, "o-", ms=3, label=rf"$\varepsilon_r$ = {e:g}")
    ax.plot([1.0, 1.0], [17.0, 20.0], "r*", ms=9, label="seed 003 at 1° (≈17, ≈20)")
    ax.set_xlabel("twist angle (deg)")
    ax.set_ylabel("energy (meV)")
    ax.legend(fontsize=7)
    ax2.set_xlabel("twist angle (deg)")
    ax2.set_ylabel(r"$\Delta_{xx}/\hbar\omega_0$")
    ax2.legend(fontsize=7)
    out.append(_save(fig, stem, "repulsion", dpi=110))

    r, parts, dens = read("biexciton/relative_r"), read("biexciton/relative_potential"), \
        read("biexciton/relative_density")
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for row, label, style in zip(parts / hw, ("trap", "dipolar V(r)", "sum"), ("C0-", "C1-", "C3-")):
        ax.plot(r, row, style, label=label)
    ax.set_ylim(0, 6)
    ax.set_xlabel("exciton-exciton distance r (nm)")
    ax.set_ylabel(r"$V/\hbar\omega_0$")
    twin = ax.twinx()
    scale = 2 * np.pi * r
    twin.fill_between(r, scale * dens[1], color="C0", alpha=0.2, label="V = 0")
    twin.fill_between(r, scale * dens[0], color="C3", alpha=0.3, label="interacting")
    twin.set_ylabel(r"$2\pi r|\psi_0(r)|^2$ (1/nm)")
    ax.legend(loc="upper left", fontsize=7)
    twin.legend(loc="upper right", fontsize=7)
    out.append(_save(fig, stem, "relative", dpi=110))

    e, fill, temp = read("pl/energy"), read("pl/filling"), read("pl/temperature")
    inten = read("pl/intensity")
    x = (e + u0) / hw
    fig, axes = plt.subplots(1, len(temp) + 1, figsize=(3.6 * (len(temp) + 1), 3.4))
    for ax, t, spec in zip(axes, temp, inten):
        ax.pcolormesh(x, fill, spec / spec.max(), shading="nearest", cmap="magma")
        ax.set_title(rf"$T_{{eff}}$ = {t:g} K", fontsize=9)
        ax.set_xlabel(r"$(E - E_0)/\hbar\omega_0$")
        ax.set_ylabel("filling")
    ax = axes[-1]
    for j, f in enumerate(fill):
        ax.plot(x, inten[-1, j], lw=1, label=f"f = {f:g}")
    ax.set_title(rf"$T_{{eff}}$ = {temp[-1]:g} K", fontsize=9)
    ax.set_xlabel(r"$(E - E_0)/\hbar\omega_0$")
    ax.set_ylabel(r"PL (nm$^2$/meV)")
    ax.legend(fontsize=6)
    out.append(_save(fig, stem, "pl", dpi=110))

    lx, zeta = read("lifetime_ratio/x"), read("lifetime_ratio/zeta")
    levels = read("biexciton/decay_levels")[0]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    ax.plot(lx, zeta, "o-", ms=3)
    ax.axhline(0.5, color="0.6", lw=0.8)
    ax.set_xlabel(r"$\Delta_{xx}/\hbar\omega_0$")
    ax.set_ylabel(r"$\zeta = \tau_{xx}/\tau_x$")
    dxx0 = float(read("biexciton/delta_xx"))
    photon = (2 * hw + dxx0 - hw * (np.arange(len(levels)) + 1)) / hw       # XX_0 -> X_N1, above E_0
    ax2.bar(photon, levels / levels.sum(), width=0.05)
    ax2.set_yscale("log")
    ax2.set_ylim(1e-6, 2)
    ax2.set_xlim(-4, 3)
    ax2.set_xlabel(r"$(E - E_0)/\hbar\omega_0$ of XX$_0\to$X$_{N_1}$")
    ax2.set_ylabel("branching ratio")
    out.append(_save(fig, stem, "lifetime", dpi=110))
    return out
