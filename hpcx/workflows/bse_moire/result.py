"""The ``bse_moire`` run file: /results/... (docs/output.md, section bse_moire)."""

from __future__ import annotations

import dataclasses

import numpy as np

R = "results"


@dataclasses.dataclass
class Spectrum:
    """sigma(E) with and without the e-h interaction (e^2/hbar) on ``energy`` (eV), its peaks."""

    method: str
    broadening: float
    lanczos_steps: list
    polarization: str
    energy: np.ndarray
    sigma: np.ndarray
    sigma_ip: np.ndarray
    peaks: np.ndarray
    peak_height: np.ndarray
    prominence: float


@dataclasses.dataclass
class Wavefunctions:
    """Hole on ``hole_site``: electron density [n_wf, n_R, n_site] at positions [n_R, n_site, 3]
    Angstrom, hole density [n_wf, n_site]; degenerate multiplets averaged."""

    hole_site: int
    hole_position: np.ndarray
    density: np.ndarray
    positions: np.ndarray
    hole_density: np.ndarray


@dataclasses.dataclass
class Supercell:
    """The cell: lattice (3, 3) and metal/atom site positions Angstrom; for twisted cells also the
    twist (deg), strain, moiré period, on-site shifts [n_sites, 2] eV and the harmonics [2, 2]."""

    attrs: dict
    n_sites: int
    n_orbitals: int
    lattice: np.ndarray
    site_positions: np.ndarray
    theta_deg: float | None = None
    strain: float | None = None
    moire_period: float | None = None
    onsite_shift: np.ndarray | None = None
    harmonics: np.ndarray | None = None

    @property
    def twisted(self):
        return self.theta_deg is not None


@dataclasses.dataclass
class Result:
    """Lowest excitons and the absorption of a supercell (eV, Angstrom, e^2/hbar).

    ``attrs``: the /results attributes (source, model, sizes, solver, memory estimate, ...);
    ``transitions`` [n, 3] and ``transition_energy`` [n] are this rank's block from
    ``transition_offset`` (the whole arrays, offset 0, when read from a file); ``amplitudes``
    [n, n_eig] likewise from ``amplitude_offset`` (None unless written).
    """

    attrs: dict
    eigenvalues: np.ndarray
    residuals: np.ndarray
    oscillator_strength: np.ndarray
    qp_gap: float
    k_points: np.ndarray
    transitions: np.ndarray
    transition_energy: np.ndarray
    transition_offset: int
    spectrum: Spectrum
    supercell: Supercell
    wavefunctions: Wavefunctions | None = None
    amplitudes: np.ndarray | None = None
    amplitude_offset: int = 0

    @property
    def bse_dimension(self):
        return int(self.attrs["bse_dimension"])

    @classmethod
    def of_run(cls, p, problem, bands, pairs, f_S, qp_gap, spectrum, wavefunctions, split, valleys, mid_gap,
               ranks):
        """The Result of a run (this rank's blocks of the distributed datasets)."""
        k0, k1 = bands.k_start, bands.k_start + len(bands.E_v)
        kv, vv, cv = np.meshgrid(np.arange(k0, k1), np.arange(bands.n_v), np.arange(bands.n_c), indexing="ij")
        return cls(attrs=_attrs(p, problem, pairs, split, valleys, mid_gap, ranks), eigenvalues=pairs.values,
                   residuals=pairs.residuals, oscillator_strength=f_S, qp_gap=qp_gap, k_points=bands.k_frac,
                   transitions=np.column_stack([kv.ravel(), vv.ravel(), cv.ravel()]),
                   transition_energy=bands.transition_energies(), transition_offset=bands.local_range[0],
                   spectrum=spectrum, supercell=_supercell(problem), wavefunctions=wavefunctions,
                   amplitudes=pairs.vectors if p.write_amplitudes else None, amplitude_offset=pairs.local_range[0])

    def write(self, writer):
        N, nev = self.bse_dimension, len(self.eigenvalues)
        writer.group(R, attrs=self.attrs)
        writer.write(f"{R}/eigenvalues", self.eigenvalues, units="eV",
                     attrs={"order": "ascending", "max_residual_eV": float(self.residuals.max()),
                            "residuals_eV": self.residuals.tolist()})
        writer.write(f"{R}/oscillator_strength", self.oscillator_strength, units="",
                     attrs={"definition": "g_s 2 m |P_S|^2 / (hbar^2 N_k Omega_S), in-plane average, per supercell"})
        writer.write(f"{R}/qp_gap", self.qp_gap, units="eV", attrs={"definition": "smallest E_c - E_v in the basis "
                                                                                  "(scissor applied)"})
        writer.write(f"{R}/binding_energy", self.qp_gap - self.eigenvalues[0], units="eV",
                     attrs={"definition": "qp_gap - lowest eigenvalue"})
        writer.write(f"{R}/k_points", self.k_points, units="",
                     attrs={"definition": "fractional (supercell reciprocal basis)"})
        writer.write_distributed(f"{R}/transitions", self.transitions, self.transition_offset, (N, 3), units="",
                                 attrs={"columns": ["k", "v", "c"], "definition": "k indexes results/k_points; v "
                                        "counts valence bands down from the top, c conduction bands up from the "
                                        "bottom (0-based)"})
        writer.write_distributed(f"{R}/transition_energy", self.transition_energy, self.transition_offset, (N,),
                                 units="eV", attrs={"definition": "E_c(k) - E_v(k) (scissor applied)"})
        if self.wavefunctions is not None:
            _write_wavefunctions(writer, self.wavefunctions)
        if self.amplitudes is not None:
            writer.write_distributed(f"{R}/amplitudes", np.ascontiguousarray(self.amplitudes), self.amplitude_offset,
                                     (N, nev), units="", attrs={
                                         "shape": "[n_transitions, n_eig]",
                                         "definition": "A^S_(k v c) (column S), transition order of "
                                                       "results/transitions; phase as returned by the solver"})
        _write_spectrum(writer, self.spectrum, nev, self.eigenvalues[-1])
        _write_supercell(writer, self.supercell)

    @classmethod
    def read(cls, run):
        """From a finished run file (distributed datasets whole, offsets 0)."""
        f = run.file
        get = lambda name: run.read(f"{R}/{name}")[0]  # noqa: E731
        s = f[f"{R}/spectrum"].attrs
        spectrum = Spectrum(str(s["method"]), float(s["broadening_eV"]), list(np.atleast_1d(s["lanczos_steps"])),
                            str(s["polarization"]), get("spectrum/energy"), get("spectrum/sigma"),
                            get("spectrum/sigma_ip"), get("spectrum/peaks"), get("spectrum/peak_height"),
                            _prominence(run))
        wf = None
        if f"{R}/wavefunction" in f:
            a = f[f"{R}/wavefunction"].attrs
            wf = Wavefunctions(int(a["hole_site"]), np.asarray(a["hole_position_angstrom"]),
                               get("wavefunction/density"), get("wavefunction/positions"),
                               get("wavefunction/hole_density"))
        c = f"{R}/supercell"
        twisted = f"{c}/theta_deg" in f
        cell = Supercell(dict(f[c].attrs), int(get("supercell/n_sites")), int(get("supercell/n_orbitals")),
                         get("supercell/lattice"), get("supercell/site_positions"),
                         *((float(get("supercell/theta_deg")), float(get("supercell/strain")),
                            float(get("supercell/moire_period")), get("supercell/onsite_shift"),
                            get("supercell/harmonics")) if twisted else ()))
        return cls(attrs=dict(f[R].attrs), eigenvalues=get("eigenvalues"),
                   residuals=np.asarray(f[f"{R}/eigenvalues"].attrs["residuals_eV"]),
                   oscillator_strength=get("oscillator_strength"), qp_gap=float(get("qp_gap")),
                   k_points=get("k_points"), transitions=get("transitions"),
                   transition_energy=get("transition_energy"), transition_offset=0, spectrum=spectrum,
                   supercell=cell, wavefunctions=wf,
                   amplitudes=get("amplitudes") if f"{R}/amplitudes" in f else None)


def _prominence(run):
    """peak_prominence of the run's config (the schema default when it is not given)."""
    import tomllib

    from .schema import MOIRE
    given = tomllib.loads(run.config_text).get("bse_moire", {})
    return float(given.get("peak_prominence", MOIRE.field("peak_prominence").default))


def _attrs(p, problem, pairs, split, valleys, mid_gap, ranks):
    """The attributes of /results."""
    if problem.cell is not None:
        origin = {"modulation_data": p.data.name, "layer": p.data.layer, "other_layer": p.data.other_layer,
                  "model": p.model_label, "modulation": p.modulation, "modulation_scale": p.modulation_scale,
                  "valleys_on_grid": valleys}
    else:
        w = p.wannier90
        origin = {"model": p.model_label, "n_occupied": problem.n_occ, "hopping_cutoff_eV": w.hopping_cutoff,
                  "hoppings": problem.model.nnz, "use_ws_distance": w.use_ws_distance, "mid_gap_eV": float(mid_gap)}
    est = p.memory
    return {"source": p.source, **origin, "k_grid": list(p.grid), "n_valence": p.valence_bands,
            "n_conduction": p.conduction_bands, "bse_dimension": p.size, "operator": p.operator,
            "solver": pairs.method, "iterations": pairs.iterations, "spin_factor": problem.spin_factor,
            "direct": True, "exchange": p.exchange, "r0_angstrom": p.r0, "epsilon": p.epsilon,
            "onsite_u": p.onsite_u, "onsite_length_angstrom": p.onsite_length, "scissor_eV": p.scissor,
            "split_degenerate_edges": split, "memory_dense_gib_per_rank": est.dense / 2 ** 30,
            "memory_matfree_gib_per_rank": est.matfree / 2 ** 30, "memory_limit_gib_per_rank": est.limit / 2 ** 30,
            "ranks": ranks}


def _supercell(problem):
    sc, cell = problem.model, problem.cell
    if cell is None:
        return Supercell({}, problem.n_sites, sc.n_orb, sc.lattice, problem.site_pos)
    return Supercell({"m": list(cell.m), "n": list(cell.n), "n_sites_other": cell.n_sites_other,
                      "primitive": cell.primitive}, problem.n_sites, sc.n_orb, sc.lattice, problem.site_pos,
                     abs(cell.theta_deg), cell.strain, cell.moire_period, problem.onsite_shift_table(),
                     np.array([problem.harmonics["valence"], problem.harmonics["conduction"]]))


def _write_wavefunctions(writer, wf):
    w = f"{R}/wavefunction"
    writer.group(w, attrs={"hole_site": wf.hole_site, "hole_position_angstrom": list(wf.hole_position)})
    writer.write(f"{w}/density", wf.density, units="", attrs={
        "shape": "[n_wf, n_R, n_site]", "definition": "|Psi_S(r_e = R + tau_s, r_h = tau_hole)|^2 summed over "
        "the orbitals of both sites, normalised per state; degenerate multiplets averaged"})
    writer.write(f"{w}/positions", wf.positions, units="Angstrom", attrs={"shape": "[n_R, n_site, 3]",
                                                                        "definition": "minimum image around the hole"})
    writer.write(f"{w}/hole_density", wf.hole_density, units="", attrs={
        "shape": "[n_wf, n_site]", "definition": "probability of the hole on each site of the cell (its "
        "orbitals summed), electron anywhere; sums to 1 per state; degenerate multiplets averaged"})


def _write_spectrum(writer, s, nev, top):
    g = f"{R}/spectrum"
    writer.group(g, attrs={"method": s.method, "broadening_eV": s.broadening, "lanczos_steps": s.lanczos_steps,
                           "polarization": s.polarization,
                           "note": "recursion: all excitons in the window (no eigenpairs needed); eigenpairs: "
                                   "complete below the highest computed eigenvalue"
                           if s.method == "recursion" else
                           f"from the {nev} computed eigenpairs only: complete below {top:.4f} eV"})
    writer.write(f"{g}/energy", s.energy, units="eV")
    writer.write(f"{g}/sigma", s.sigma, units="e^2/hbar", attrs={"definition": "Re sigma_xx(E), with e-h "
                                                                             "interaction (in-plane average)"})
    writer.write(f"{g}/sigma_ip", s.sigma_ip, units="e^2/hbar",
                 attrs={"definition": "Re sigma_xx(E), independent particles (all N transitions)"})
    writer.write(f"{g}/peaks", s.peaks, units="eV",
                 attrs={"definition": f"local maxima of sigma with prominence >= {s.prominence} of its "
                                      "maximum (parabolic refinement)"})
    writer.write(f"{g}/peak_height", s.peak_height, units="e^2/hbar")


def _write_supercell(writer, cell):
    """/results/supercell: the cell (both sources) and the twist and modulation (twisted cells)."""
    c = f"{R}/supercell"
    writer.group(c, attrs=cell.attrs)
    writer.write(f"{c}/n_sites", cell.n_sites, units="", attrs={
        "definition": "metal sites of the layer" if cell.twisted else "atoms carrying Wannier functions"})
    writer.write(f"{c}/n_orbitals", cell.n_orbitals, units="")
    writer.write(f"{c}/lattice", cell.lattice, units="Angstrom", attrs={"shape": "[3 (A1, A2, a3), xyz]"})
    writer.write(f"{c}/site_positions", cell.site_positions, units="Angstrom", attrs={"shape": "[n_sites, 3]"})
    if not cell.twisted:
        return
    writer.write(f"{c}/theta_deg", cell.theta_deg, units="deg",
                 attrs={"definition": "twist of the layer relative to the other layer"})
    writer.write(f"{c}/strain", cell.strain, units="", attrs={"definition": "isotropic strain of the other "
                                                                            "layer that makes the cell commensurate"})
    writer.write(f"{c}/moire_period", cell.moire_period, units="Angstrom")
    writer.write(f"{c}/onsite_shift", cell.onsite_shift, units="eV",
                 attrs={"shape": "[n_sites, 2 (valence d_xy/d_x2-y2, conduction d_z2)]"})
    writer.write(f"{c}/harmonics", cell.harmonics, units="",
                 attrs={"shape": "[2 (valence, conduction), 2 (V eV, phi rad)]",
                        "definition": "Delta(r) = 2 V sum_j cos(G'_j.r + phi), amplitudes times "
                                      "modulation_scale"})
