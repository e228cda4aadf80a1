"""Config schema of the ``kinetics`` workflow and its translation into typed parameters.

``params`` resolves the materials, solves the 1s Wannier states (or reads them from a
``wannier`` run file) and checks that the interlayer exciton is the lowest state
at every (temperature, Delta E) point -- all before the rate tables are built.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ... import materials
from ...config import Field, Schema, Section
from ...errors import ConfigError
from ...materials.kinetics import kinetics_data
from ...materials.phonons import phonon_params
from ...physics.kinetics import setup
from ...physics.kinetics.dynamics import Pulse, Tunnelling
from ...physics.screening import stack_from_materials
from ...units import HBAR2_2M0_MEV_NM2
from .wannier_input import read_species

STRUCTURE = Section("structure", (
    Field("layers", str, ("MoSe2", "WSe2"), "the two TMD layers, bottom (substrate side) to top; names from "
          "hpcx/materials/tmd.toml with a heterostructure entry in heterostructures.toml", list_of=True, min_items=2),
    Field("substrate", str, "SiO2", "half-space below the layers (hpcx/materials/environments.toml)"),
    Field("superstrate", str, "vacuum", "half-space above the layers (hpcx/materials/environments.toml)"),
), doc="The heterobilayer and its dielectric environment (two-slab screening model).")

KINETICS = Section("kinetics", (
    Field("temperature", float, 77.0, "lattice temperature", unit="K", minimum=0.0, exclusive=True),
    Field("delta_e", float, None, "interlayer band offset Delta E (valence-band offset, hole layer above "
          "the electron layer; default: heterostructures.toml, 315 meV for MoSe2-WSe2)", unit="meV"),
    Field("second_intralayer", bool, False, "also include the intralayer exciton of the hole layer "
          "(e.g. WSe2), coupled to the interlayer exciton by electron tunnelling"),
    Field("wannier_file", str, "", "a finished `wannier` run file to take the 1s binding energies and "
          "wavefunctions from (default: solve the Wannier equation in process)"),
    Field("energy_step", float, 1.0, "energy width of one momentum shell of the pumped species (shells are "
          "equal-area in Q)", unit="meV", minimum=0.0, exclusive=True),
    Field("energy_window", float, 150.0, "highest energy kept above the highest band bottom (the pumped "
          "exciton's unless the second intralayer exciton is included)",
          unit="meV", minimum=0.0, exclusive=True),
    Field("broadening", float, 1.0, "half width at half maximum of the energy-conserving function "
          "(of the order of the low-temperature homogeneous line width; energy_step must not exceed it)",
          unit="meV", minimum=0.0, exclusive=True),
    Field("broadening_shape", float, 2.0, "generalized-normal shape of that function (2 = Gaussian)",
          minimum=0.5, maximum=20.0),
    Field("angles", int, 48, "angle nodes of the angle average of every rate", minimum=4, maximum=4096),
    Field("t_end", float, 100.0, "end of the simulated time window", unit="ps", minimum=0.0, exclusive=True),
    Field("n_times", int, 2001, "output times on [0, t_end]", minimum=11),
    Field("snapshots", int, 101, "times at which occupations and PL spectra are stored (half of them in "
          "the first 5 ps)", minimum=2),
    Field("pump_step", float, 0.01, "largest substep of the exponential integrator while the pump is on "
          "(the pump profile is a cubic on each substep; after the pump the propagation is exact)", unit="ps",
          minimum=0.0, exclusive=True, maximum=0.05),
    Field("radiative_decay", bool, True, "include radiative decay (off: the total density is conserved)"),
    Field("pl_points", int, 400, "photon energies of the PL spectra", minimum=2),
    Field("cell_overlap", float, None, "unit-cell overlap of the two layers' lattice-periodic Bloch functions "
          "in the tunnelling element (default: hpcx/materials/kinetics.toml, seed 001's 1e-2); for sensitivity "
          "studies", minimum=0.0),
    Field("correlation_length", float, None, "disorder correlation length L_C of the tunnelling element "
          "(default: kinetics.toml, seed 001's 1 nm); for sensitivity studies", unit="nm", minimum=0.0,
          exclusive=True),
    Field("radiative_rates", float, (), "gamma_r of each species in the order pumped intralayer, interlayer "
          "(, second intralayer) (default: kinetics.toml); for sensitivity studies", unit="1/ps", list_of=True),
    Field("linewidths", float, (), "PL line widths (FWHM) of each species, same order (default: "
          "kinetics.toml)", unit="meV", list_of=True),
), doc="Luminescence Bloch equations (seed 001 Eqs. 2-3).")

SWEEP = Section("sweep", (
    Field("temperatures", float, (), "temperatures of a formation-time sweep (with delta_e below)",
          unit="K", list_of=True),
    Field("delta_e", float, (), "band offsets of a formation-time sweep", unit="meV", list_of=True),
    Field("substrates", str, (), "substrates of the sweep (hpcx/materials/environments.toml; default: "
          "structure.substrate only); each changes the screening, hence binding energies and wavefunctions, "
          "at fixed quasiparticle gaps", list_of=True),
), doc="Formation time tau(substrate, T, Delta E) on a grid; each point is independent (hpcx sweep: job arrays).")

SCHEMA = Schema("kinetics", (STRUCTURE, KINETICS, SWEEP),
                doc="Interlayer exciton formation and photoluminescence (seed 001, luminescence Bloch equations).")


@dataclasses.dataclass(frozen=True)
class Params:
    """A checked ``kinetics`` run: species inputs (species 0 is pumped), shifts, numerics, sweep."""

    species: tuple                 # of physics.kinetics.setup.SpeciesInput
    layer_phonons: tuple           # PhononParams per layer
    layer_names: tuple
    hetero_name: str
    substrate: str
    temperature: float
    delta_e: float                 # meV
    tunnelling: Tunnelling
    radiative: tuple               # gamma_r per species, 1/ps
    linewidths: tuple              # FWHM per species, meV
    pulse: Pulse
    energy_step: float
    energy_window: float
    broadening: float
    broadening_shape: float
    angles: int
    t_end: float
    n_times: int
    snapshots: int
    pump_step: float
    radiative_decay: bool
    pl_points: int
    sweep_temperatures: tuple
    sweep_delta_e: tuple
    sweep_substrates: tuple        # names; () without a sweep
    sweep_species: tuple           # species inputs per sweep substrate
    wannier_file: str

    def gap_shifts(self, delta_e, species=None):
        """Shift of each species' gap (meV): -Delta E for a hole in the second layer and an
        electron in the first (the interlayer gap = electron layer's gap - Delta E)."""
        species = self.species if species is None else species
        return tuple(-delta_e if (s.hole_layer == 1 and s.electron_layer == 0) else 0.0 for s in species)

    def energies(self, delta_e, species=None):
        """Band-bottom energies (meV) of the species (default: the main substrate's) at ``delta_e``."""
        species = self.species if species is None else species
        return tuple(s.gap + d - s.binding for s, d in zip(species, self.gap_shifts(delta_e, species)))

    def q2_step(self, species=None):
        """Delta(Q^2) of one shell (1/nm^2) from the energy step of the pumped species."""
        s = (self.species if species is None else species)[0]
        return self.energy_step * (s.m_e + s.m_h) / HBAR2_2M0_MEV_NM2

    def n_shells(self, delta_e, species=None):
        """Shells needed so that every species reaches the highest band bottom + energy_window (the
        pumped exciton's in the two-species model; with the second intralayer exciton, its bottom)."""
        species = self.species if species is None else species
        E = self.energies(delta_e, species)
        top = max(E) + self.energy_window
        q2 = max((top - e) * (s.m_e + s.m_h) / HBAR2_2M0_MEV_NM2 for e, s in zip(E, species))
        return int(np.ceil(q2 / self.q2_step(species)))

    @property
    def points(self):
        """(substrate index, T, Delta E) of the sweep, substrate- then T-major; empty without a sweep."""
        return tuple((k, T, d) for k in range(len(self.sweep_substrates)) for T in self.sweep_temperatures
                     for d in self.sweep_delta_e)

    def max_states(self):
        """Largest number of states (species x shells) of any point of the run."""
        sets = [self.species, *self.sweep_species]
        return max(len(s) * self.n_shells(d, s) for s in sets for d in (self.delta_e, *self.sweep_delta_e))


def _lookup(kind, name, source, key):
    try:
        return getattr(materials, kind)(name)
    except materials.UnknownMaterialError as exc:
        raise ConfigError(source, key, str(exc)) from None


def _species_layout(second):
    """(name suffix, electron layer, hole layer) of the species; the pumped one first."""
    out = [("intra0", 0, 0), ("inter", 0, 1)]
    return out + [("intra1", 1, 1)] if second else out


def _solve_in_process(cfg, tmds, hetero, names, substrate, key="structure.substrate"):
    st = cfg.structure
    sub = _lookup("environment", substrate, cfg.source, key)
    sup = _lookup("environment", st.superstrate, cfg.source, "structure.superstrate")
    stack = stack_from_materials(tmds, sub, sup, "slab", hetero.interlayer_distance_nm)
    out = []
    for (kind, e, h), name in zip(_species_layout(cfg.kinetics.second_intralayer), names):
        gap = materials.quasiparticle_gap_meV(tmds[e].name, tmds[h].name if kind != "inter" else tmds[e].name, hetero)
        out.append(setup.solve_species(stack, name, e, h, tmds[e].m_e, tmds[h].m_h, gap))
    return tuple(out)


def _check_lowest(cfg, p, species, delta_values, key, where=""):
    """ConfigError unless the interlayer exciton lies below every intralayer one at every Delta E."""
    for d in delta_values:
        E = p.energies(d, species)
        lowest_intra = min(e for i, e in enumerate(E) if i != 1)
        if E[1] >= lowest_intra:
            bottom_at_zero = species[1].gap - species[1].binding
            need = min(s.gap - s.binding for i, s in enumerate(species) if i != 1) - bottom_at_zero
            raise ConfigError(cfg.source, key,
                              f"Delta E = {d:g} meV puts the interlayer exciton ({E[1] / 1e3:.4f} eV) at or above "
                              f"an intralayer exciton ({lowest_intra / 1e3:.4f} eV){where}; the model needs "
                              f"the interlayer exciton lowest: Delta E > {-need:.1f} meV")


def _per_species(cfg, key, given, default):
    """``given`` (one value per species, > 0) or ``default``; ConfigError naming kinetics.<key>."""
    if not given:
        return tuple(default)
    if len(given) != len(default) or any(v <= 0.0 for v in given):
        order = "pumped intralayer, interlayer" + (", second intralayer" if len(default) > 2 else "")
        raise ConfigError(cfg.source, f"kinetics.{key}", f"{list(given)}: allowed: {len(default)} positive values, "
                          f"one per species ({order})")
    return tuple(float(v) for v in given)


def _sweep_species(cfg, tmds, hetero, names, species):
    """(substrate names, species inputs per substrate) of the sweep; ((), ()) without a sweep."""
    sw, st = cfg.sweep, cfg.structure
    if not sw.temperatures:
        if sw.substrates:
            raise ConfigError(cfg.source, "sweep.substrates", "a substrate sweep needs sweep.temperatures and "
                              "sweep.delta_e")
        return (), ()
    subs = tuple(sw.substrates) or (st.substrate,)
    if cfg.kinetics.wannier_file and subs != (st.substrate,):
        raise ConfigError(cfg.source, "sweep.substrates", "a substrate sweep solves the Wannier equation per "
                          "substrate; allowed: no kinetics.wannier_file, or no sweep.substrates")
    return subs, tuple(species if s == st.substrate else
                       _solve_in_process(cfg, tmds, hetero, names, s, "sweep.substrates") for s in subs)


def params(cfg, comm_size=1):
    """Typed parameters of a validated ``kinetics`` config; raises ConfigError before any rate work."""
    st, k, sw = cfg.structure, cfg.kinetics, cfg.sweep
    if len(st.layers) != 2:
        raise ConfigError(cfg.source, "structure.layers", f"{len(st.layers)} layers given; allowed: exactly 2")
    tmds = tuple(_lookup("tmd", n, cfg.source, f"structure.layers[{i}]") for i, n in enumerate(st.layers))
    hetero = materials.find_heterostructure(tmds[0].name, tmds[1].name)
    if hetero is None or tuple(hetero.layers) != (tmds[0].name, tmds[1].name):
        raise ConfigError(cfg.source, "structure.layers", f"no heterostructure data with electron layer "
                          f"{tmds[0].name} (bottom) and hole layer {tmds[1].name}; known: "
                          f"{', '.join(materials.names('heterostructure'))}")
    names = [tmds[0].name, hetero.name, tmds[1].name][:3 if k.second_intralayer else 2]
    if k.wannier_file:
        species = read_species(cfg.path(k.wannier_file), names, cfg.source, "kinetics.wannier_file")
        # a wannier run stores the interlayer gap at the tabulated offset; kinetics shifts it by -Delta E itself
        species = tuple(dataclasses.replace(s, gap=s.gap + hetero.valence_band_offset_meV)
                        if (s.electron_layer, s.hole_layer) == (0, 1) else s for s in species)
    else:
        species = _solve_in_process(cfg, tmds, hetero, names, st.substrate)
    kd = kinetics_data()
    try:
        radiative = _per_species(cfg, "radiative_rates", k.radiative_rates, [kd.radiative(n) for n in names])
        widths = _per_species(cfg, "linewidths", k.linewidths, [kd.width(n) for n in names])
        phon = tuple(phonon_params(t.name) for t in tmds)
    except materials.UnknownMaterialError as exc:
        raise ConfigError(cfg.source, "structure.layers", str(exc)) from None
    tunnelling = Tunnelling(kd.V_z, kd.cell_overlap if k.cell_overlap is None else k.cell_overlap,
                            kd.correlation_length if k.correlation_length is None else k.correlation_length)
    delta = hetero.valence_band_offset_meV if k.delta_e is None else k.delta_e
    for key, values in (("sweep.temperatures", sw.temperatures),):
        if any(v <= 0.0 for v in values):
            raise ConfigError(cfg.source, key, f"temperatures must be > 0 K, got {list(values)}")
    if bool(sw.temperatures) != bool(sw.delta_e):
        raise ConfigError(cfg.source, "sweep", "give both sweep.temperatures and sweep.delta_e, or neither")
    subs, sweep_species = _sweep_species(cfg, tmds, hetero, names, species)
    p = Params(species, phon, tuple(t.name for t in tmds), hetero.name, st.substrate, k.temperature, delta,
               tunnelling, radiative, widths,
               Pulse(kd.pump_center, kd.pump_fwhm, kd.pump_density), k.energy_step, k.energy_window,
               k.broadening, k.broadening_shape, k.angles, k.t_end, k.n_times, k.snapshots, k.pump_step,
               k.radiative_decay, k.pl_points, tuple(sw.temperatures), tuple(sw.delta_e), subs, sweep_species,
               k.wannier_file)
    _check_lowest(cfg, p, species, (delta,), "kinetics.delta_e")
    for name, sp in zip(subs, sweep_species):
        _check_lowest(cfg, p, sp, sw.delta_e, "sweep.delta_e", f" on {name}")
    if p.pulse.center + 10 * p.pulse.sigma >= p.t_end:
        raise ConfigError(cfg.source, "kinetics.t_end", f"{p.t_end} ps ends before the pump is over; allowed: "
                          f"> {p.pulse.center + 10 * p.pulse.sigma:.2f} ps")
    return p
