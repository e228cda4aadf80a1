"""The ``scattering`` run file: /results/{rates, rta} (docs/output.md ``## scattering``)."""

from __future__ import annotations

import dataclasses

import numpy as np

from ...io.tables import band_names
from ...units import KB_MEV_PER_K


@dataclasses.dataclass
class Tables:
    """Sampling tables at the table temperature.

    Rows are this rank's block [row_start, row_start + len(total_rate)) of the n states and
    its table entries [nnz_offset, nnz_offset + len(indices)) of nnz (a finished run file
    reads back whole: offsets 0).  total_rate [rows] 1/ps, dropped [rows], indptr [n + 1],
    indices and cumulative [entries], gamma [n] meV; ``attrs``: temperature_K, beta,
    width_min_meV, width_floor_meV, detailed_balance, threshold, iterations, residual,
    n_states, nnz.
    """

    attrs: dict
    total_rate: np.ndarray
    dropped: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    cumulative: np.ndarray
    gamma: np.ndarray
    row_start: int = 0
    nnz_offset: int = 0


@dataclasses.dataclass
class Result:
    """States, tables and RTA curve of a ``scattering`` run.

    model "moire" | "multivalley"; energy [n] meV, velocity [n, 2] nm/ps, weight [n];
    group [n] (moiré band / valley index), group_names (valleys), k [n, 2] 1/nm (moiré Q /
    valley-local k); RTA arrays over ``temperature`` [n_T] K: diffusion cm^2/s, v2_eff
    nm^2/ps^2, tau_eff ps, iterations.
    """

    model: str
    binding_energy: float
    modes: tuple
    energy: np.ndarray
    velocity: np.ndarray
    weight: np.ndarray
    group: np.ndarray
    group_names: tuple
    k: np.ndarray
    tables: Tables
    temperature: np.ndarray
    diffusion: np.ndarray
    v2_eff: np.ndarray
    tau_eff: np.ndarray
    iterations: np.ndarray
    potential: dict = dataclasses.field(default_factory=dict)

    def write(self, writer):
        writer.group("results", attrs={"model": self.model, "binding_energy_1s_meV": self.binding_energy,
                                       "modes": list(self.modes), **self.potential})
        self._write_states(writer)
        self._write_tables(writer)
        self._write_rta(writer)

    def _write_states(self, writer):
        r, moire = "results/rates", self.model == "moire"
        writer.group(r, attrs=self.tables.attrs)
        writer.write(f"{r}/energy", self.energy, units="meV", attrs={"shape": "[n_state]"})
        writer.write(f"{r}/velocity", self.velocity, units="nm/ps", attrs={"shape": "[n_state, xy]"})
        writer.write(f"{r}/weight", self.weight, units="" if moire else "1/nm^2",
                     attrs={"definition": "state measure of the Boltzmann average"})
        if moire:
            writer.write(f"{r}/band", self.group, units="", attrs={"definition": "state i = iQ * n_bands + band"})
            writer.write(f"{r}/Q", self.k, units="1/nm")
        else:
            writer.write(f"{r}/valley", self.group, units="", attrs={"names": list(self.group_names)})
            writer.write(f"{r}/k", self.k, units="1/nm")

    def _write_tables(self, writer):
        r, t, n = "results/rates", self.tables, len(self.energy)
        nnz = int(t.attrs["nnz"])
        writer.write_distributed(f"{r}/total_rate", t.total_rate, t.row_start, (n,), units="1/ps",
                                 attrs={"definition": "sum_f W_if (all final states); tau = 1/total_rate"})
        writer.write(f"{r}/gamma", t.gamma, units="meV", attrs={"definition": "self-consistent dephasing, SI Eq. 24"})
        writer.write_distributed(f"{r}/dropped", t.dropped, t.row_start, (n,), units="", attrs={
            "definition": "fraction of total_rate below the threshold, not in the table"})
        writer.write(f"{r}/indptr", t.indptr, units="", attrs={"definition": "CSR row pointer, [n_state + 1]"})
        writer.write_distributed(f"{r}/indices", t.indices, t.nnz_offset, (nnz,), units="",
                                 attrs={"definition": "final state of each entry"})
        writer.write_distributed(f"{r}/cumulative", t.cumulative, t.nnz_offset, (nnz,), units="",
                                 attrs={"definition": "cumulative probability within the row, last = 1; "
                                                      "W_if = diff(cumulative) total_rate (1 - dropped)"})

    def _write_rta(self, writer):
        t = "results/rta"
        writer.group(t, attrs={"definition": "relaxation-time approximation, Boltzmann distribution, SI Eq. 23"})
        writer.write(f"{t}/temperature", np.asarray(self.temperature), units="K")
        writer.write(f"{t}/diffusion", np.asarray(self.diffusion), units="cm^2/s")
        writer.write(f"{t}/v2_eff", np.asarray(self.v2_eff), units="nm^2/ps^2",
                     attrs={"definition": "sum_i N_i |v_i|^2"})
        writer.write(f"{t}/tau_eff", np.asarray(self.tau_eff), units="ps", attrs={"definition": "sum_i N_i tau_i"})
        writer.write(f"{t}/iterations", np.asarray(self.iterations), units="",
                     attrs={"definition": "SI Eq. 24 iterations"})
        writer.write(f"{t}/kT", KB_MEV_PER_K * np.asarray(self.temperature), units="meV")

    @classmethod
    def read(cls, run):
        """From a finished run file (whole arrays)."""
        read = lambda name: run.read(f"results/{name}")[0]  # noqa: E731
        res, rates = run.file["results"].attrs, run.file["results/rates"]
        moire = str(res["model"]) == "moire"
        names = () if moire else tuple(str(x.decode() if isinstance(x, bytes) else x)
                                       for x in rates["valley"].attrs["names"])
        tables = Tables(dict(rates.attrs), read("rates/total_rate"), read("rates/dropped"), read("rates/indptr"),
                        read("rates/indices"), read("rates/cumulative"), read("rates/gamma"))
        group = read("rates/band" if moire else "rates/valley")
        if moire:
            names = band_names(group, len(tables.gamma), run.path)
        keys = ("potential", "conduction_fraction", "A_point_particle_meV", "B_point_particle_meV", "A_eff_meV",
                "B_eff_meV", "form_factor_electron", "form_factor_hole", "acoustic_scale")
        potential = {k: (res[k].decode() if isinstance(res[k], bytes) else res[k]) for k in keys if k in res}
        return cls(str(res["model"]), float(res["binding_energy_1s_meV"]),
                   tuple(str(m.decode() if isinstance(m, bytes) else m) for m in res["modes"]),
                   read("rates/energy"), read("rates/velocity"), read("rates/weight"), group, names,
                   read("rates/Q" if moire else "rates/k"), tables, read("rta/temperature"),
                   read("rta/diffusion"), read("rta/v2_eff"), read("rta/tau_eff"), read("rta/iterations"), potential)
