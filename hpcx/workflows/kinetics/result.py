"""The ``kinetics`` run file: /results/... (docs/output.md, kinetics section)."""

from __future__ import annotations

import dataclasses

import numpy as np

from ...physics.kinetics import luminescence as lum
from ...physics.kinetics.states import light_cone

GROUP = "results"


def snapshot_indices(time, n, early=5.0):
    """Indices of about n output times: half of them uniform in the first ``early`` ps after the
    pump starts (formation and thermalisation), half uniform over the whole window."""
    k = len(time) - 1
    t_early = min(early, float(time[-1]))
    first = np.linspace(0.0, t_early, (n + 1) // 2) / float(time[-1]) * k
    return np.unique(np.concatenate([first, np.linspace(0, k, n // 2 + 1)]).round().astype(int))


@dataclasses.dataclass
class PointResult:
    """One (T, Delta E) point with time traces, occupation snapshots and PL."""

    temperature: float            # K
    delta_e: float                # meV
    species: list                 # labels
    energy: np.ndarray            # [species] band bottoms, eV
    binding_energy: np.ndarray    # [species] meV
    time: np.ndarray              # ps
    density: np.ndarray           # [species, time] nm^-2
    polarization: np.ndarray      # [species, time] |P|^2, nm^-2
    emission: np.ndarray          # [species, time] photon emission rate, nm^-2 ps^-1
    q: np.ndarray                 # 1/nm
    snapshot_time: np.ndarray     # ps
    occupation: np.ndarray        # [species, q, snapshot] occupation per state
    formation_time: float         # ps
    pl_energy: np.ndarray         # eV
    pl_intensity: np.ndarray      # [snapshot, energy]
    linewidth: np.ndarray         # [species] FWHM meV
    crossover_time: float         # ps
    crossover_temperature: float  # K

    @classmethod
    def from_trajectory(cls, p, model, traj, tau):
        """Observables of a solved point (p: schema.Params)."""
        nS = len(model.species)
        f = model.light_cone_fraction()
        pol = np.zeros((nS, traj.time.size))
        pol[model.pumped] = traj.coherent
        emission = np.array([lum.emission_rates(pol[s], traj.density[s, 0], model.radiative[s], f[s])
                             for s in range(nS)])
        snap = snapshot_indices(traj.time, p.snapshots)
        E = np.array([s.energy for s in model.species])
        widths = np.array(p.linewidths)
        w = np.linspace(E.min() - 5 * widths.max(), E.max() + 5 * widths.max(), p.pl_points)
        peaks = [lum.peak_intensity(emission[s], widths[s]) for s in range(nS)]
        cross = lum.crossover_time(traj.time, peaks[0], peaks[1], p.pulse.center)
        t_c = lum.equilibrium_crossover_temperature(E, [s.mass for s in model.species], model.radiative, widths,
                                                    [light_cone(s) for s in model.species], 0, 1)
        return cls(p.temperature, p.delta_e, [s.name for s in model.species], E / 1e3,
                   np.array([s.binding for s in p.species]), traj.time, traj.density.sum(axis=1), pol, emission,
                   model.shells.q, traj.time[snap], traj.density[:, :, snap] / model.shells.weight, tau,
                   w / 1e3, lum.spectrum(w, emission[:, snap], E, widths), widths, cross, t_c)

    def write(self, writer):
        g = GROUP
        writer.write(f"{g}/time", self.time, units="ps")
        writer.write(f"{g}/species", self.species, units="label", attrs={
            "energy_eV": self.energy, "binding_energy_meV": self.binding_energy, "linewidth_fwhm_meV": self.linewidth,
            "note": "species 0 is pumped (intralayer), species 1 is the interlayer exciton"})
        writer.write(f"{g}/density", self.density, units="1/nm^2", attrs={"shape": "[species, time]"})
        writer.write(f"{g}/polarization", self.polarization, units="1/nm^2",
                     attrs={"shape": "[species, time]", "definition": "|P|^2: coherent exciton density at Q = 0"})
        writer.write(f"{g}/emission", self.emission, units="1/(nm^2 ps)",
                     attrs={"shape": "[species, time]", "definition": "2 gamma_r (|P|^2 + light-cone density)"})
        writer.write(f"{g}/q", self.q, units="1/nm", attrs={"definition": "sqrt of the mean Q^2 of each shell"})
        writer.write(f"{g}/occupation_time", self.snapshot_time, units="ps")
        writer.write(f"{g}/occupation", self.occupation, units="", attrs={
            "shape": "[species, q, occupation_time]", "definition": "occupation per state N_Q = n_shell / weight"})
        writer.write(f"{g}/formation_time", self.formation_time, units="ps", attrs={
            "definition": "pump maximum to interlayer density (1 - 1/e) x its maximum (seed 001)",
            "temperature_K": self.temperature, "delta_e_meV": self.delta_e})
        writer.write(f"{g}/pl/energy", self.pl_energy, units="eV")
        writer.write(f"{g}/pl/time", self.snapshot_time, units="ps")
        writer.write(f"{g}/pl/intensity", self.pl_intensity, units="1/(nm^2 ps meV)",
                     attrs={"shape": "[time, energy]", "definition": "sum_s I_s(t) (E/E_s) L_s(E - E_s)"})
        writer.write(f"{g}/pl/crossover_time", self.crossover_time, units="ps", attrs={
            "definition": "first time after the pump at which interlayer and intralayer peak emission are equal"})
        writer.write(f"{g}/pl/crossover_temperature", self.crossover_temperature, units="K",
                     attrs={"definition": "equal peak emission in a Boltzmann equilibrium"})

    @classmethod
    def read(cls, run):
        r = lambda k: np.asarray(run.read(f"{GROUP}/{k}")[0])  # noqa: E731
        a = run.file[f"{GROUP}/species"].attrs
        fa = run.file[f"{GROUP}/formation_time"].attrs
        labels = [x.decode() if isinstance(x, bytes) else str(x) for x in r("species")]
        return cls(float(fa["temperature_K"]), float(fa["delta_e_meV"]), labels, np.asarray(a["energy_eV"]),
                   np.asarray(a["binding_energy_meV"]), r("time"), r("density"), r("polarization"), r("emission"),
                   r("q"), r("occupation_time"), r("occupation"), float(r("formation_time")), r("pl/energy"),
                   r("pl/intensity"), np.asarray(a["linewidth_fwhm_meV"]), float(r("pl/crossover_time")),
                   float(r("pl/crossover_temperature")))


@dataclasses.dataclass
class SweepResult:
    """Formation time on the (substrate, temperature, Delta E) grid, with the exciton energies used."""

    substrate: list               # labels
    temperature: np.ndarray       # K
    delta_e: np.ndarray           # meV
    formation_time: np.ndarray    # [substrate, temperature, delta_e] ps
    energy: np.ndarray            # [substrate, delta_e, species] band bottoms, eV
    binding_energy: np.ndarray    # [substrate, species] meV

    def write(self, writer):
        writer.write(f"{GROUP}/sweep/substrate", self.substrate, units="label")
        writer.write(f"{GROUP}/sweep/temperature", self.temperature, units="K")
        writer.write(f"{GROUP}/sweep/delta_e", self.delta_e, units="meV")
        writer.write(f"{GROUP}/sweep/formation_time", self.formation_time, units="ps",
                     attrs={"shape": "[substrate, temperature, delta_e]"})
        writer.write(f"{GROUP}/sweep/energy", self.energy, units="eV",
                     attrs={"shape": "[substrate, delta_e, species]", "definition": "band bottoms E(Q = 0)"})
        writer.write(f"{GROUP}/sweep/binding_energy", self.binding_energy, units="meV",
                     attrs={"shape": "[substrate, species]"})

    @classmethod
    def read(cls, run):
        r = lambda k: np.asarray(run.read(f"{GROUP}/sweep/{k}")[0])  # noqa: E731
        labels = [x.decode() if isinstance(x, bytes) else str(x) for x in r("substrate")]
        return cls(labels, r("temperature"), r("delta_e"), r("formation_time"), r("energy"), r("binding_energy"))

    def tau(self, substrate, T, delta_e):
        """Formation time (ps) at one grid point; KeyError if the point is not on the grid."""
        i = self.substrate.index(substrate)
        j, k = np.nonzero(self.temperature == T)[0], np.nonzero(self.delta_e == delta_e)[0]
        if not (j.size and k.size):
            raise KeyError(f"({substrate}, {T} K, {delta_e} meV) is not a sweep point")
        return float(self.formation_time[i, j[0], k[0]])


@dataclasses.dataclass
class Result:
    """The main point and, if configured, the sweep."""

    point: PointResult
    sweep: SweepResult | None = None

    def write(self, writer):
        self.point.write(writer)
        if self.sweep is not None:
            self.sweep.write(writer)

    @classmethod
    def read(cls, run):
        sweep = SweepResult.read(run) if f"{GROUP}/sweep" in run.file else None
        return cls(PointResult.read(run), sweep)
