"""The ``wannier`` run file: /results/excitons/<species>/... (docs/output.md)."""

from __future__ import annotations

import dataclasses

import numpy as np

from ...physics.wannier import Species

GROUP = "results/excitons"


@dataclasses.dataclass
class SpeciesResult:
    """One exciton species: energies (meV, eV), radii (nm), wavefunctions on their grids."""

    species: Species
    electron_material: str
    hole_material: str
    states: list
    binding_energy: np.ndarray    # [state] meV
    band_gap: float               # eV
    rms_radius: np.ndarray        # [state] nm
    r: np.ndarray                 # nm
    phi_r: np.ndarray             # [state, r] 1/nm
    k: np.ndarray                 # 1/nm
    phi_k: np.ndarray             # [state, k] nm
    q: np.ndarray                 # 1/nm
    form_factor: np.ndarray       # [q] of the 1s state
    epsilon: np.ndarray           # [q] effective eps(q)

    @property
    def energy(self):
        """Total exciton energies band_gap - binding_energy, eV."""
        return self.band_gap - 1e-3 * self.binding_energy

    def write(self, writer):
        sp = self.species
        g = f"{GROUP}/{sp.name}"
        writer.group(g, attrs={
            "electron_layer": sp.electron_layer, "hole_layer": sp.hole_layer,
            "electron_material": self.electron_material, "hole_material": self.hole_material,
            "electron_mass_m0": sp.electron_mass, "hole_mass_m0": sp.hole_mass,
            "reduced_mass_m0": sp.reduced_mass, "interlayer": sp.interlayer,
        })
        writer.write(f"{g}/states", self.states, units="label")
        writer.write(f"{g}/binding_energy", self.binding_energy, units="meV")
        writer.write(f"{g}/band_gap", self.band_gap, units="eV",
                     attrs={"note": "quasiparticle gap from the material data"})
        writer.write(f"{g}/energy", self.energy, units="eV", attrs={"definition": "band_gap - binding_energy"})
        writer.write(f"{g}/rms_radius", self.rms_radius, units="nm")
        writer.write(f"{g}/r", self.r, units="nm")
        writer.write(f"{g}/phi_r", self.phi_r, units="1/nm",
                     attrs={"shape": "[state, r]", "normalisation": "int d^2r |phi(r)|^2 = 1"})
        writer.write(f"{g}/k", self.k, units="1/nm")
        writer.write(f"{g}/phi_k", self.phi_k, units="nm",
                     attrs={"shape": "[state, k]", "normalisation": "int d^2k/(2pi)^2 |phi(k)|^2 = 1"})
        writer.write(f"{g}/q", self.q, units="1/nm")
        writer.write(f"{g}/form_factor", self.form_factor, units="", attrs={
            "definition": "F(q) = sum_k phi_1s*(k) phi_1s(k+q) = int d^2r |phi_1s(r)|^2 e^{iq.r}"})
        writer.write(f"{g}/epsilon", self.epsilon, units="",
                     attrs={"definition": "effective eps(q): V(q) = e^2/(2 eps0 q eps(q)), on the q grid"})

    @classmethod
    def read(cls, run, name):
        g = f"{GROUP}/{name}"
        a = run.file[g].attrs
        read = lambda key: run.read(f"{g}/{key}")[0]  # noqa: E731
        species = Species(name, int(a["electron_layer"]), int(a["hole_layer"]),
                          float(a["electron_mass_m0"]), float(a["hole_mass_m0"]))
        return cls(species=species, electron_material=str(a["electron_material"]),
                   hole_material=str(a["hole_material"]), states=list(read("states")),
                   binding_energy=read("binding_energy"), band_gap=float(read("band_gap")),
                   rms_radius=read("rms_radius"), r=read("r"), phi_r=read("phi_r"), k=read("k"),
                   phi_k=read("phi_k"), q=read("q"), form_factor=read("form_factor"), epsilon=read("epsilon"))


@dataclasses.dataclass
class Result:
    """Every species of a ``wannier`` run, in config order."""

    species: list

    def __getitem__(self, name):
        for s in self.species:
            if s.species.name == name:
                return s
        raise KeyError(name)

    def write(self, writer):
        writer.group(GROUP)
        for s in self.species:
            s.write(writer)

    @classmethod
    def read(cls, run):
        """From a finished run file (species in file order, sorted by name)."""
        return cls([SpeciesResult.read(run, name) for name in sorted(run.file[GROUP].keys())])
