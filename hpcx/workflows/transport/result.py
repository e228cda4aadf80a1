"""The ``transport`` run file: /results (docs/output.md ``## transport``); every array has a sweep-point axis."""

from __future__ import annotations

import dataclasses

import numpy as np

from ...units import KB_MEV_PER_K

#: the observables of :func:`hpcx.physics.transport.analyse_point` stacked over the points
STACKED = ("variance", "msd", "population", "transient", "transient_groups", "stationary", "stationary_error",
           "fit_intercept", "profiles", "energy_histogram", "energy_histogram_boltzmann", "v2_eff", "tau_eff",
           "diffusion_occupation", "mean_energy", "v2_eff_boltzmann", "fit_events")
STATES = (("energy", "meV"), ("velocity", "nm/ps"), ("group", ""), ("k", "1/nm"), ("total_rate", "1/ps"),
          ("weight", ""), ("decay", "1/ps"))
#: the per-point datasets of /results/potential and their units
POTENTIAL_UNITS = {"A_eff_meV": "meV", "B_eff_meV": "meV", "form_factor_electron": "", "form_factor_hole": ""}
_FILE = {"transient": "diffusion/transient", "transient_groups": "diffusion/transient_groups",
         "stationary": "diffusion/stationary", "stationary_error": "diffusion/stationary_error",
         "fit_intercept": "diffusion/fit_intercept", "v2_eff": "analysis/v2_eff", "tau_eff": "analysis/tau_eff",
         "diffusion_occupation": "analysis/diffusion_occupation", "mean_energy": "analysis/mean_energy",
         "v2_eff_boltzmann": "analysis/v2_eff_boltzmann", "fit_events": "sweep/fit_events"}


@dataclasses.dataclass
class Result:
    """A transport sweep: ``attrs`` of /results, ``fit_from_ps``, sampling ``time`` [n_t] ps,
    ``profile_edges`` nm, ``energy_edges`` meV, ``observables`` {name in STACKED: [n_point, ...]},
    ``occupation`` [p, t, s], ``events``/``decays`` [p, t], ``states`` {name: [p, s(, 2)]} and the
    sweep points: ``temperature`` K, ``theta_deg`` (NaN: no twist angle), ``diffusion_rta`` and
    ``diffusion_exact`` (cm^2/s) of each point's tables."""

    attrs: dict
    fit_from_ps: float
    time: np.ndarray
    profile_edges: np.ndarray
    energy_edges: np.ndarray
    observables: dict
    occupation: np.ndarray
    events: np.ndarray
    decays: np.ndarray
    states: dict
    temperature: np.ndarray
    theta_deg: np.ndarray
    diffusion_rta: np.ndarray
    diffusion_exact: np.ndarray
    potential: dict = dataclasses.field(default_factory=dict)

    @property
    def group_names(self):
        return tuple(self.attrs["groups"])

    def write(self, writer):
        cols = list(self.group_names) + ["total"]
        writer.group("results", attrs=self.attrs)
        w, ob = writer.write, self.observables
        w("results/time", self.time, units="ps")
        w("results/variance", ob["variance"], units="nm^2", attrs={
            "shape": "[n_point, n_time, n_group + 1]", "columns": cols,
            "definition": "var(x) + var(y) of the positions of the group's particles"})
        w("results/msd", ob["msd"], units="nm^2", attrs={
            "shape": "[n_point, n_time, n_group + 1]", "columns": cols,
            "definition": "var(dx) + var(dy) of the displacements r(t) - r(0)"})
        w("results/population", ob["population"], units="", attrs={
            "shape": "[n_point, n_time, n_group + 1]", "columns": cols, "definition": "particles / N"})
        self._write_diffusion(writer)
        self._write_distributions(writer, cols)
        self._write_analysis(writer)
        self._write_states(writer)
        self._write_sweep(writer)

    def _write_diffusion(self, writer):
        d, w, ob = "results/diffusion", writer.write, self.observables
        writer.group(d, attrs={"fit_from_ps": self.fit_from_ps,
                               "definition": "D = (1/4) d sigma^2/dt of the displacement variance (msd)"})
        w(f"{d}/transient", ob["transient"], units="cm^2/s", attrs={"shape": "[n_point, n_time]"})
        w(f"{d}/transient_groups", ob["transient_groups"], units="cm^2/s",
          attrs={"shape": "[n_point, n_time, n_group]", "columns": list(self.group_names)})
        w(f"{d}/stationary", ob["stationary"], units="cm^2/s", attrs={"shape": "[n_point]"})
        w(f"{d}/stationary_error", ob["stationary_error"], units="cm^2/s",
          attrs={"shape": "[n_point]", "definition": "standard error over the batches"})
        w(f"{d}/fit_intercept", ob["fit_intercept"], units="nm^2", attrs={"shape": "[n_point]"})

    def _write_distributions(self, writer, cols):
        w, ob, edges = writer.write, self.observables, self.profile_edges
        w("results/profiles", ob["profiles"], units="1/nm", attrs={
            "shape": "[n_point, n_time, n_group + 1, n_bin]", "columns": cols,
            "definition": "particles per nm along x (marginal over y) / N"})
        w("results/profile_x", 0.5 * (edges[1:] + edges[:-1]), units="nm")
        w("results/profile_edges", edges, units="nm")
        w("results/occupation", self.occupation, units="",
          attrs={"shape": "[n_point, n_time, n_state]", "definition": "particles per state"})
        w("results/energy_edges", self.energy_edges, units="meV", attrs={"definition": "excess energy E - E_min"})
        w("results/energy_histogram", ob["energy_histogram"], units="",
          attrs={"shape": "[n_point, n_time, n_bin]", "definition": "fraction of particles per bin"})
        w("results/energy_histogram_boltzmann", ob["energy_histogram_boltzmann"], units="",
          attrs={"shape": "[n_point, n_bin]", "definition": "Boltzmann distribution over the same states"})
        w("results/events", self.events, units="",
          attrs={"definition": "scattering events of all particles up to each time"})
        w("results/decays", self.decays, units="")

    def _write_analysis(self, writer):
        g, w, ob = "results/analysis", writer.write, self.observables
        writer.group(g, attrs={"definition": "seed 000 Eq. 1 with the Monte Carlo occupation N_i(t)"})
        w(f"{g}/v2_eff", ob["v2_eff"], units="nm^2/ps^2", attrs={"definition": "sum_i N_i |v_i|^2"})
        w(f"{g}/tau_eff", ob["tau_eff"], units="ps", attrs={"definition": "sum_i N_i / total_rate_i"})
        w(f"{g}/diffusion_occupation", ob["diffusion_occupation"], units="cm^2/s",
          attrs={"definition": "(1/2) sum_i N_i |v_i|^2 tau_i"})
        w(f"{g}/mean_energy", ob["mean_energy"], units="meV", attrs={"definition": "mean excess energy"})
        w(f"{g}/v2_eff_boltzmann", ob["v2_eff_boltzmann"], units="nm^2/ps^2")

    def _write_states(self, writer):
        s = "results/states"
        writer.group(s, attrs={"definition": "the states of each sweep point's tables"})
        for key, unit in STATES:
            writer.write(f"{s}/{key}", self.states[key], units=unit)

    def _write_sweep(self, writer):
        sw, w, ob = "results/sweep", writer.write, self.observables
        writer.group(sw, attrs={"definition": "one entry per sweep point (twist outer, temperature inner)"})
        w(f"{sw}/temperature", self.temperature, units="K")
        w(f"{sw}/theta_deg", self.theta_deg, units="deg")
        w(f"{sw}/diffusion", ob["stationary"], units="cm^2/s")
        w(f"{sw}/diffusion_error", ob["stationary_error"], units="cm^2/s")
        w(f"{sw}/diffusion_rta", self.diffusion_rta, units="cm^2/s",
          attrs={"definition": "RTA with a Boltzmann distribution, SI Eq. 23, same tables"})
        w(f"{sw}/diffusion_exact", self.diffusion_exact, units="cm^2/s", attrs={
            "definition": "exact t -> infinity D of the same tables for the stationary (Boltzmann) distribution "
                          "(Green-Kubo, linear solve); NaN if the tables are not irreducible"})
        w(f"{sw}/kT", KB_MEV_PER_K * self.temperature, units="meV")
        w(f"{sw}/fit_events", ob["fit_events"], units="", attrs={
            "definition": "scattering events per particle inside the fit window; a stationary D needs >> 1"})
        self._write_potential(writer)

    def _write_potential(self, writer):
        """The moiré potential of each point (moiré model with in-process bands): scalars as attrs of
        /results/potential, the angle-dependent amplitudes and form factors as [n_point] datasets."""
        if not self.potential:
            return
        g = "results/potential"
        writer.group(g, attrs={k: v for k, v in self.potential.items() if k not in POTENTIAL_UNITS})
        for key, unit in POTENTIAL_UNITS.items():
            if key in self.potential:
                writer.write(f"{g}/{key}", self.potential[key], units=unit, attrs={"shape": "[n_point]"})

    @classmethod
    def read(cls, run):
        """From a finished run file."""
        read = lambda name: run.read(f"results/{name}")[0]  # noqa: E731
        attrs = {k: (list(v) if isinstance(v, np.ndarray) else v) for k, v in run.file["results"].attrs.items()}
        attrs["groups"] = [g.decode() if isinstance(g, bytes) else str(g) for g in attrs["groups"]]
        return cls(attrs, float(run.file["results/diffusion"].attrs["fit_from_ps"]), read("time"),
                   read("profile_edges"), read("energy_edges"),
                   {name: read(_FILE.get(name, name)) for name in STACKED}, read("occupation"), read("events"),
                   read("decays"), {key: read(f"states/{key}") for key, _ in STATES}, read("sweep/temperature"),
                   read("sweep/theta_deg"), read("sweep/diffusion_rta"), read("sweep/diffusion_exact"),
                   cls._read_potential(run))

    @staticmethod
    def _read_potential(run):
        if "results/potential" not in run.file:
            return {}
        g = run.file["results/potential"]
        out = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in g.attrs.items()}
        return {**out, **{key: g[key][()] for key in POTENTIAL_UNITS if key in g}}
