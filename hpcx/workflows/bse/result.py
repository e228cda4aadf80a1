"""The ``bse`` run file: /results/... (docs/output.md, section bse)."""

from __future__ import annotations

import dataclasses

import numpy as np

from ...parallel import block_range

R = "results"


@dataclasses.dataclass
class Result:
    """Lowest excitons of a Wannier-basis BSE run (eV, Angstrom, e^2/hbar).

    eigenvectors [N, n_eig] (columns A^S in transition order, every rank holds all; the file
    stores them as [n_eig, N]); density [n_wf, n_R, n_site] and positions [n_R, n_site, 3] of
    the hole-fixed electron density.
    """

    source: str
    model_label: str
    grid: tuple
    n_valence: int
    n_conduction: int
    solver: str
    iterations: int
    spin_factor: float
    direct: bool
    exchange: bool
    r0: float
    epsilon: float
    onsite_u: float
    scissor: float
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    residuals: np.ndarray
    transitions: np.ndarray
    k_points: np.ndarray
    transition_energy: np.ndarray
    qp_gap: float
    oscillator_strength: np.ndarray
    broadening: float
    energy: np.ndarray
    sigma: np.ndarray
    sigma_ip: np.ndarray
    hole_site: int
    hole_position: np.ndarray
    density: np.ndarray
    positions: np.ndarray
    site_positions: np.ndarray
    site_layer: np.ndarray
    site_of_orbital: np.ndarray
    lattice: np.ndarray

    @property
    def bse_dimension(self):
        return len(self.transitions)

    @property
    def binding_energy(self):
        """qp_gap - lowest eigenvalue (eV)."""
        return self.qp_gap - self.eigenvalues[0]

    def write(self, writer):
        nev, n = len(self.eigenvalues), self.bse_dimension
        writer.group(R, attrs={
            "source": self.source, "k_grid": list(self.grid), "n_valence": self.n_valence,
            "n_conduction": self.n_conduction, "bse_dimension": n, "solver": self.solver,
            "iterations": self.iterations, "spin_factor": self.spin_factor, "direct": self.direct,
            "exchange": self.exchange, "r0_angstrom": self.r0, "epsilon": self.epsilon, "onsite_u": self.onsite_u,
            "scissor_eV": self.scissor, "model": self.model_label})
        writer.write(f"{R}/eigenvalues", self.eigenvalues, units="eV", attrs={"order": "ascending"})
        lo, hi = block_range(nev, writer.comm.size, writer.comm.rank)
        writer.write_distributed(f"{R}/eigenvectors", np.ascontiguousarray(self.eigenvectors[:, lo:hi].T), lo,
                                 (nev, n), units="", attrs={
                                     "shape": "[n_eig, n_transitions]",
                                     "definition": "A^S_(k v c), transition order of results/transitions; "
                                                   "largest component real > 0"})
        writer.write(f"{R}/residuals", self.residuals, units="eV", attrs={"definition": "||H x - lambda x||"})
        writer.write(f"{R}/transitions", self.transitions, units="",
                     attrs={"columns": ["k", "v", "c"], "definition": "k indexes results/k_points; v, c are band "
                                                                      "indices of the single-particle model (0-based)"})
        writer.write(f"{R}/k_points", self.k_points, units="", attrs={"definition": "fractional (reciprocal basis)"})
        writer.write(f"{R}/transition_energy", self.transition_energy, units="eV",
                     attrs={"definition": "E_c(k) - E_v(k) (scissor applied)"})
        writer.write(f"{R}/qp_gap", self.qp_gap, units="eV",
                     attrs={"definition": "smallest E_c - E_v in the basis (scissor applied)"})
        writer.write(f"{R}/binding_energy", self.binding_energy, units="eV",
                     attrs={"definition": "qp_gap - lowest eigenvalue"})
        writer.write(f"{R}/oscillator_strength", self.oscillator_strength, units="",
                     attrs={"definition": "g_s 2 m |P_S|^2 / (hbar^2 N_k Omega_S), in-plane average, per unit cell"})
        self._write_spectrum(writer)
        self._write_wavefunction(writer)

    def _write_spectrum(self, writer):
        s = f"{R}/spectrum"
        writer.group(s, attrs={"broadening_eV": self.broadening, "complete_below_eV": float(self.eigenvalues[-1]),
                               "note": "sigma uses the computed eigenpairs only: complete below complete_below_eV"})
        writer.write(f"{s}/energy", self.energy, units="eV")
        writer.write(f"{s}/sigma", self.sigma, units="e^2/hbar",
                     attrs={"definition": "Re sigma_xx(E), with e-h interaction"})
        writer.write(f"{s}/sigma_ip", self.sigma_ip, units="e^2/hbar",
                     attrs={"definition": "Re sigma_xx(E), independent particles"})

    def _write_wavefunction(self, writer):
        w = f"{R}/wavefunction"
        writer.group(w, attrs={"hole_site": self.hole_site, "hole_position_angstrom": list(self.hole_position)})
        writer.write(f"{w}/density", self.density, units="", attrs={
            "shape": "[n_state, n_R, n_site]",
            "definition": "|Psi_S(r_e = R + tau_s, r_h = tau_hole)|^2, normalised per state"})
        writer.write(f"{w}/positions", self.positions, units="Angstrom", attrs={"shape": "[n_R, n_site, 3]"})
        writer.write(f"{R}/sites/positions", self.site_positions, units="Angstrom")
        writer.write(f"{R}/sites/layer", self.site_layer, units="")
        writer.write(f"{R}/sites/site_of_orbital", self.site_of_orbital, units="")
        writer.write(f"{R}/lattice", self.lattice, units="Angstrom", attrs={"shape": "[3 (a1, a2, a3), xyz]"})

    @classmethod
    def read(cls, run):
        """From a finished run file."""
        a = run.file[R].attrs
        w = run.file[f"{R}/wavefunction"].attrs
        get = lambda name: run.read(f"{R}/{name}")[0]  # noqa: E731
        return cls(
            source=str(a["source"]), model_label=str(a["model"]), grid=tuple(int(x) for x in a["k_grid"]),
            n_valence=int(a["n_valence"]), n_conduction=int(a["n_conduction"]), solver=str(a["solver"]),
            iterations=int(a["iterations"]), spin_factor=float(a["spin_factor"]), direct=bool(a["direct"]),
            exchange=bool(a["exchange"]), r0=float(a["r0_angstrom"]), epsilon=float(a["epsilon"]),
            onsite_u=float(a["onsite_u"]), scissor=float(a["scissor_eV"]),
            eigenvalues=get("eigenvalues"), eigenvectors=get("eigenvectors").T, residuals=get("residuals"),
            transitions=get("transitions"), k_points=get("k_points"), transition_energy=get("transition_energy"),
            qp_gap=float(get("qp_gap")), oscillator_strength=get("oscillator_strength"),
            broadening=float(run.file[f"{R}/spectrum"].attrs["broadening_eV"]), energy=get("spectrum/energy"),
            sigma=get("spectrum/sigma"), sigma_ip=get("spectrum/sigma_ip"), hole_site=int(w["hole_site"]),
            hole_position=np.asarray(w["hole_position_angstrom"]), density=get("wavefunction/density"),
            positions=get("wavefunction/positions"), site_positions=get("sites/positions"),
            site_layer=get("sites/layer"), site_of_orbital=get("sites/site_of_orbital"), lattice=get("lattice"))
