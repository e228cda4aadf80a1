"""Workflow ``bse``: Bethe-Salpeter equation in a Wannier / tight-binding basis (seed 004).

Config -> TBModel (Wannier90 files or the three-band model of Liu et al.) -> bands
and coefficients on the k-grid (MPI over k) -> band window, scissor -> W_ij(q)
lattice sums (Keldysh, on-site regularised) and bare V^x -> the rows of H this
rank owns (PETSc layout; Cython direct term, low-rank exchange) -> SLEPc lowest
eigenpairs -> velocities, oscillator strengths, sigma(E) with and without the
electron-hole interaction, hole-fixed exciton densities -> /results.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import Field, Schema, Section
from ..errors import ConfigError, InputError
from ..log import get_logger
from ..parallel import on_root

SOURCES = ("wannier90", "liu")

BSE = Section("bse", (
    Field("source", str, "wannier90", "single-particle input: Wannier90 files or the built-in three-band "
          "model of Liu et al. PRB 88, 085433 (2013)", choices=SOURCES),
    Field("wannier90_dir", str, "", "directory of the Wannier90 files (relative to the config file)"),
    Field("seedname", str, "wannier90", "Wannier90 seedname: SEED_hr.dat, SEED_wsvec.dat, SEED.win, SEED.wout"),
    Field("use_ws_distance", bool, True, "apply the SEED_wsvec.dat shifts (as Wannier90 did)"),
    Field("centres", str, "atoms", "interaction centres: 'atoms' (each Wannier function on its nearest atom, "
          "seed 004) or 'wannier' (final centres of SEED.wout)", choices=("atoms", "wannier")),
    Field("material", str, "WSe2", "three-band model material (hpcx/materials/tb_liu.toml)"),
    Field("model", str, "TNN", "three-band model range: NN or TNN (GGA fits)", choices=("NN", "TNN")),
    Field("soc", bool, True, "three-band model with on-site spin-orbit coupling (6 spin orbitals)"),
    Field("n_occupied", int, 0, "occupied bands of the Wannier90 model (required there; the three-band "
          "model sets it)", minimum=0),
    Field("k_grid", int, 0, "n of the n x n Gamma-centred k-grid (0: mp_grid of the .win file; 9 for "
          "the three-band model)", minimum=0, maximum=400),
    Field("valence_bands", int, 2, "valence bands in the BSE basis (from the top)", minimum=1),
    Field("conduction_bands", int, 2, "conduction bands in the BSE basis (from the bottom)", minimum=1),
    Field("scissor", float, 0.0, "rigid shift of the conduction bands (GW correction of the gap)", unit="eV"),
    Field("r0", float, 45.09, "Keldysh screening length rho0 (WSe2: 45.09 A, seed 004 / PyMEX)", unit="Angstrom",
          minimum=0.0, exclusive=True),
    Field("epsilon", float, 1.0, "mean dielectric constant of the surroundings (1: free-standing)",
          minimum=1.0),
    Field("onsite_length", float, 0.0, "a of the on-site regularisation V(0) = U V(a) (0: |a1| of the "
          "lattice, seed 004)", unit="Angstrom", minimum=0.0),
    Field("onsite_u", float, 1.0, "U of the on-site regularisation (seed 004: 1)", minimum=0.0),
    Field("interlayer_distance", float, 0.0, "d of the interlayer Keldysh form r0 -> r0 + d (sites in "
          "different layers)", unit="Angstrom", minimum=0.0),
    Field("direct", bool, True, "include the screened direct term K^d"),
    Field("exchange", bool, True, "include the bare exchange term K^x (seed 004's main results omit it)"),
    Field("n_eig", int, 10, "lowest eigenpairs to compute (0: all, dense solver)", minimum=0),
    Field("solver", str, "auto", "eigensolver: SLEPc EPS, scipy dense eigh, or SLEPc when available",
          choices=("auto", "slepc", "dense")),
    Field("tol", float, 1e-10, "SLEPc relative tolerance", minimum=0.0, exclusive=True),
    Field("max_it", int, 1000, "SLEPc maximum iterations", minimum=1),
    Field("eps_type", str, "krylovschur", "SLEPc EPS type", choices=("krylovschur", "lanczos", "arnoldi",
                                                                    "lobpcg", "lapack")),
    Field("ncv", int, 0, "SLEPc subspace size (0: SLEPc's default)", minimum=0),
    Field("slepc_options", str, (), "extra SLEPc options 'name=value' set as -bse_name value (e.g. "
          "'eps_lanczos_reorthog=local')", list_of=True),
    Field("broadening", float, 0.03, "Gaussian width of the spectra", unit="eV", minimum=0.0, exclusive=True),
    Field("energy_min", float, 0.0, "spectrum start (0: lowest exciton - 0.3 eV)", unit="eV", minimum=0.0),
    Field("energy_max", float, 0.0, "spectrum end (0: highest computed exciton + 3 broadenings)", unit="eV",
          minimum=0.0),
    Field("energy_points", int, 1500, "points of the spectrum grid", minimum=2),
    Field("wavefunctions", int, 2, "lowest excitons whose hole-fixed density is written", minimum=0),
    Field("hole_site", int, -1, "site of the fixed hole (-1: the site with the largest top-valence weight)",
          minimum=-1),
), doc="Bethe-Salpeter equation in a Wannier basis: lowest excitons, spectra, wavefunctions.", required=True)

SCHEMA = Schema("bse", (BSE,), doc="Tamm-Dancoff BSE at zero exciton momentum in a Wannier / tight-binding "
                                   "basis with Keldysh screening (seed 004); SLEPc eigenpairs, optical "
                                   "conductivity, exciton wavefunctions.")


def wannier_dir(cfg, section="bse"):
    """The Wannier90 directory of ``[section]``, relative paths taken from the config file's directory."""
    d = Path(getattr(cfg, section).wannier90_dir)
    if not d.is_absolute():
        d = Path(cfg.source).resolve().parent / d
    return d


def locate_wannier90(cfg, section="bse"):
    """The Wannier90 directory of ``[section]`` (keys wannier90_dir, seedname, use_ws_distance) with every
    file the reader needs; ConfigError naming the key otherwise."""
    b = getattr(cfg, section)
    if not b.wannier90_dir:
        raise ConfigError(cfg.source, f"{section}.wannier90_dir", "required for source = 'wannier90'")
    d = wannier_dir(cfg, section)
    if not d.is_dir():
        raise ConfigError(cfg.source, f"{section}.wannier90_dir", f"{b.wannier90_dir!r} -> {d}: no such directory "
                          "(relative paths start at the config file's directory)")
    wsvec = (f"{b.seedname}_wsvec.dat",) if b.use_ws_distance else ()
    missing = [f for f in (f"{b.seedname}_hr.dat", f"{b.seedname}.win", f"{b.seedname}.wout") + wsvec
               if not (d / f).is_file()]
    if missing:
        hint = "; or set use_ws_distance = false" if wsvec and wsvec[0] in missing else ""
        raise ConfigError(cfg.source, f"{section}.seedname", f"{d} has no {', '.join(missing)} "
                          f"(seedname {b.seedname!r}{hint})")
    return d


def _slepc_options(cfg):
    out = {}
    for i, item in enumerate(cfg.bse.slepc_options):
        if "=" not in item or not item.split("=", 1)[0].strip():
            raise ConfigError(cfg.source, f"bse.slepc_options[{i}]", f"{item!r} is not of the form name=value")
        k, v = (s.strip() for s in item.split("=", 1))
        out[k.lstrip("-").removeprefix("bse_")] = v
    return out


def load_model(cfg):
    """(TBModel, n_occupied, grid (n1, n2), spinful) from the config; raises ConfigError/InputError."""
    b = cfg.bse
    if b.source == "liu":
        from ..bse.liu import liu_materials, liu_model
        if b.material not in liu_materials():
            raise ConfigError(cfg.source, "bse.material", f"unknown three-band TB material {b.material!r}; "
                              f"known: {', '.join(liu_materials())}")
        model = liu_model(b.material, b.model, soc=b.soc)
        n = b.k_grid or 9
        return model, (2 if b.soc else 1), (n, n), b.soc
    from ..bse.wannier90 import load_wannier90
    d = locate_wannier90(cfg)
    model, info = load_wannier90(d, b.seedname, centres=b.centres, use_ws_distance=b.use_ws_distance)
    if b.n_occupied < 1 or b.n_occupied >= model.n_orb:
        raise ConfigError(cfg.source, "bse.n_occupied", f"must be 1..{model.n_orb - 1} for the {model.n_orb} "
                          f"Wannier bands, got {b.n_occupied}")
    n = b.k_grid
    grid = (n, n) if n else tuple(info["mp_grid"][:2])
    return model, b.n_occupied, grid, False


def check(cfg):
    """Input files readable and consistent, band window inside the bands; raises ConfigError."""
    b = cfg.bse
    try:
        model, n_occ, grid, _ = load_model(cfg)
    except InputError as exc:
        raise ConfigError(cfg.source, "bse.wannier90_dir", str(exc)) from None
    if b.valence_bands > n_occ:
        raise ConfigError(cfg.source, "bse.valence_bands", f"at most the {n_occ} occupied bands")
    if b.conduction_bands > model.n_orb - n_occ:
        raise ConfigError(cfg.source, "bse.conduction_bands", f"at most the {model.n_orb - n_occ} empty bands")
    n = grid[0] * grid[1] * b.valence_bands * b.conduction_bands
    if b.n_eig > n:
        raise ConfigError(cfg.source, "bse.n_eig", f"at most the BSE dimension {n}")
    if b.solver == "slepc":
        from ..bse.solver import slepc_available
        if not slepc_available():
            raise ConfigError(cfg.source, "bse.solver", "'slepc' needs petsc4py/slepc4py (complex); "
                              "use 'auto' or 'dense'")
    _slepc_options(cfg)


def _hole_site(window, sites, requested):
    if requested >= 0:
        return requested
    weight = np.zeros(sites.n_site)
    np.add.at(weight, sites.site_of_orbital, np.sum(np.abs(window.C_v[:, :, 0]) ** 2, axis=0))
    return int(np.argmax(weight))


def run(cfg, writer, comm, timer):
    from ..bse import bands as bb
    from ..bse import hamiltonian as hh
    from ..bse import interaction as it
    from ..bse import optics as op
    from ..bse import solver as sv
    from ..bse.tbmodel import monkhorst_pack

    log = get_logger("bse")
    b = cfg.bse
    with timer.phase("model"):
        model, n_occ, grid, spinful = on_root(load_model, comm, cfg)
        k = monkhorst_pack(*grid)
        E, C = bb.bands_on_grid(model, k, comm)
        window = bb.band_window(E, C, k, n_occ, b.valence_bands, b.conduction_bands, b.scissor)
        n = window.size
        g_s = 1.0 if spinful else 2.0
        log.info("%s model: %d orbitals, %d x %d k-points, %d valence + %d conduction bands -> N = %d; "
                 "qp gap %.4f eV (scissor %.3f eV)", b.source, model.n_orb, *grid, window.n_v, window.n_c,
                 n, window.qp_gap, b.scissor)

    with timer.phase("interaction"):
        sites = it.group_sites(model.positions)
        a0 = b.onsite_length or float(np.linalg.norm(model.lattice[0]))
        direct = it.layered_keldysh(b.r0, b.epsilon, a0, b.onsite_u, b.interlayer_distance)
        exchange = it.coulomb(b.epsilon, a0) if b.exchange else None
        inter = it.build_interaction(model.lattice, grid, sites, direct, exchange)
        log.info("%d interaction sites in %d layer(s); W_ij(q) on %d q-points", sites.n_site,
                 sites.layer.max() + 1, inter.W.shape[0])

    with timer.phase("assembly"):
        start, stop = sv.ownership(n, comm)
        rows = hh.assemble_rows(window, inter, start, stop, exchange_factor=g_s if b.exchange else 0.0,
                                direct=b.direct)
        log.info("rank rows %d:%d of %d assembled (%.1f MB per rank)", start, stop, n, rows.nbytes / 2**20)

    with timer.phase("solve"):
        nev = b.n_eig or n
        backend = "dense" if b.n_eig == 0 else b.solver
        res = sv.solve(rows, start, n, nev, comm, backend=backend, tol=b.tol, max_it=b.max_it,
                       eps_type=b.eps_type, ncv=b.ncv or None, options=_slepc_options(cfg))
        log.info("%s: %d eigenpairs, lowest %.4f eV (binding %.4f eV), max residual %.2e eV",
                 res.backend, nev, res.values[0], window.qp_gap - res.values[0], res.residuals.max())

    with timer.phase("optics"):
        P = op.velocity_matrix(model, k, window.C_v, window.C_c)
        P_S = op.exciton_amplitudes(P, res.vectors)
        cell = float(abs(np.linalg.det(model.lattice[:2, :2])))
        omega_ip = window.transition_energies()
        p2_ip = 0.5 * np.sum(np.abs(P.transpose(0, 2, 3, 1).reshape(-1, 2)) ** 2, axis=1)
        p2_S = 0.5 * np.sum(np.abs(P_S) ** 2, axis=1)
        e_lo = b.energy_min or max(0.05, res.values[0] - 0.3)
        e_hi = b.energy_max or res.values[-1] + 3 * b.broadening
        if e_hi <= e_lo:
            e_hi = e_lo + 1.0
        energy = np.linspace(e_lo, e_hi, b.energy_points)
        sigma = op.conductivity(energy, res.values, p2_S, window.n_k, cell, b.broadening, g_s)
        sigma_ip = op.conductivity(energy, omega_ip, p2_ip, window.n_k, cell, b.broadening, g_s)
        f_S = op.oscillator_strength(P_S, res.values, window.n_k, g_s)
        hole = _hole_site(window, sites, b.hole_site)
        n_wf = min(b.wavefunctions, nev)
        dens, pos = op.hole_fixed_density(window, res.vectors[:, :n_wf], sites, grid, hole, model.lattice)

    with timer.phase("write"):
        _write(writer, cfg, model, grid, window, sites, res, energy, sigma, sigma_ip, f_S, hole, dens, pos,
               start, g_s, inter, comm)


def _write(writer, cfg, model, grid, window, sites, res, energy, sigma, sigma_ip, f_S, hole, dens, pos,
           start, g_s, inter, comm):
    from ..parallel import block_range
    b = cfg.bse
    nev, n = len(res.values), window.size
    writer.group("results", attrs={
        "source": b.source, "k_grid": list(grid), "n_valence": window.n_v, "n_conduction": window.n_c,
        "bse_dimension": n, "solver": res.backend, "iterations": res.iterations, "spin_factor": g_s,
        "direct": b.direct, "exchange": b.exchange, "r0_angstrom": b.r0, "epsilon": b.epsilon,
        "onsite_u": b.onsite_u, "scissor_eV": b.scissor,
        "model": f"{b.material} {b.model} soc={b.soc}" if b.source == "liu" else str(wannier_dir(cfg))})
    writer.write("results/eigenvalues", res.values, units="eV", attrs={"order": "ascending"})
    lo, hi = block_range(nev, comm.size, comm.rank)
    writer.write_distributed("results/eigenvectors", np.ascontiguousarray(res.vectors[:, lo:hi].T), lo, (nev, n),
                             units="", attrs={"shape": "[n_eig, n_transitions]",
                                              "definition": "A^S_(k v c), transition order of results/transitions; "
                                                            "largest component real > 0"})
    writer.write("results/residuals", res.residuals, units="eV", attrs={"definition": "||H x - lambda x||"})
    writer.write("results/transitions", window.transitions(), units="",
                 attrs={"columns": ["k", "v", "c"], "definition": "k indexes results/k_points; v, c are band "
                                                                  "indices of the single-particle model (0-based)"})
    writer.write("results/k_points", window.k_frac, units="", attrs={"definition": "fractional (reciprocal basis)"})
    writer.write("results/transition_energy", window.transition_energies(), units="eV",
                 attrs={"definition": "E_c(k) - E_v(k) (scissor applied)"})
    writer.write("results/qp_gap", window.qp_gap, units="eV",
                 attrs={"definition": "smallest E_c - E_v in the basis (scissor applied)"})
    writer.write("results/binding_energy", window.qp_gap - res.values[0], units="eV",
                 attrs={"definition": "qp_gap - lowest eigenvalue"})
    writer.write("results/oscillator_strength", f_S, units="",
                 attrs={"definition": "g_s 2 m |P_S|^2 / (hbar^2 N_k Omega_S), in-plane average, per unit cell"})
    s = "results/spectrum"
    writer.group(s, attrs={"broadening_eV": b.broadening, "complete_below_eV": float(res.values[-1]),
                           "note": "sigma uses the computed eigenpairs only: complete below complete_below_eV"})
    writer.write(f"{s}/energy", energy, units="eV")
    writer.write(f"{s}/sigma", sigma, units="e^2/hbar", attrs={"definition": "Re sigma_xx(E), with e-h interaction"})
    writer.write(f"{s}/sigma_ip", sigma_ip, units="e^2/hbar",
                 attrs={"definition": "Re sigma_xx(E), independent particles"})
    w = "results/wavefunction"
    writer.group(w, attrs={"hole_site": hole, "hole_position_angstrom": list(sites.positions[hole])})
    writer.write(f"{w}/density", dens, units="", attrs={"shape": "[n_state, n_R, n_site]",
                                                        "definition": "|Psi_S(r_e = R + tau_s, r_h = tau_hole)|^2, "
                                                                      "normalised per state"})
    writer.write(f"{w}/positions", pos, units="Angstrom", attrs={"shape": "[n_R, n_site, 3]"})
    writer.write("results/sites/positions", sites.positions, units="Angstrom")
    writer.write("results/sites/layer", sites.layer, units="")
    writer.write("results/sites/site_of_orbital", sites.site_of_orbital, units="")
    writer.write("results/lattice", model.lattice, units="Angstrom", attrs={"shape": "[3 (a1, a2, a3), xyz]"})


def plot(run, stem):
    """Spectrum (with and without e-h interaction, exciton sticks) and hole-fixed densities."""
    from ..plotting import _pyplot, _save
    plt = _pyplot()
    r = lambda name: run.read(f"results/{name}")[0]  # noqa: E731
    out = []
    E, sig, sig_ip = r("spectrum/energy"), r("spectrum/sigma"), r("spectrum/sigma_ip")
    ev, f = r("eigenvalues"), r("oscillator_strength")
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(E, sig, label="BSE (e-h interaction)")
    ax.plot(E, sig_ip, "--", label="independent particles")
    ax.axvline(float(r("qp_gap")), color="0.6", lw=0.8, label="qp gap")
    top = max(sig.max(), sig_ip.max(), 1e-30)
    keep = ev <= E[-1]
    if f[keep].size and f[keep].max() > 0:
        ax.vlines(ev[keep], 0, 0.25 * top * f[keep] / f[keep].max(), color="k", lw=0.8, label="excitons (f)")
    ax.set_xlabel("energy (eV)")
    ax.set_ylabel(r"Re $\sigma_{xx}$ ($e^2/\hbar$)")
    ax.legend(fontsize=8)
    out.append(_save(fig, stem, "spectrum"))
    dens, pos = r("wavefunction/density"), r("wavefunction/positions")
    if len(dens):
        nplot = min(len(dens), 3)
        fig, axes = plt.subplots(1, nplot, figsize=(3.4 * nplot, 3.2), squeeze=False)
        hole = np.array(run.file["results/wavefunction"].attrs["hole_position_angstrom"])
        for s, ax in enumerate(axes[0]):
            d = dens[s].ravel()
            p = pos.reshape(-1, 3)
            big = d > 1e-6 * d.max()
            ax.scatter(p[big, 0], p[big, 1], c=d[big], s=12, cmap="viridis")
            ax.plot(*hole[:2], "r+", ms=10)
            ax.set_aspect("equal")
            ax.set_title(f"S{s}: {ev[s]:.3f} eV", fontsize=9)
            ax.set_xlabel("x (A)")
        axes[0][0].set_ylabel("y (A)")
        out.append(_save(fig, stem, "wavefunction"))
    return out
