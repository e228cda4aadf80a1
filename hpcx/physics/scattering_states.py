"""Exciton states and their phonon couplings for scattering tables: moiré bands or multi-valley parabolas.

Physics only (no files, no configs): typed model descriptions in, arrays and
:class:`hpcx.physics.scattering.Terms` out.  Units: meV, nm, ps, m0, K.

Two models share one interface, :class:`States`:

* moiré interlayer excitons (seed 000): the bands of :mod:`hpcx.physics.moire` on a
  Monkhorst-Pack grid of the mini-BZ (:class:`MoireBands`), LA/TA/optical phonons of
  the electron's and the hole's layer (:meth:`MoireModel.modes`), moiré-basis
  couplings of SI Eq. 11 (:func:`hpcx.physics.scattering.moire_terms`);
* multi-valley monolayer excitons (seed 002): parabolic valleys on one k-grid each,
  intra- and intervalley phonons (:func:`hpcx.physics.phonons.multivalley_channels`).

The exciton vertex needs the 1s form factor of the Wannier equation in the
dielectric environment of the layers (:func:`exciton_1s`); the moiré potential of the
interlayer exciton (:class:`hpcx.physics.moire_potential.ExcitonPotentialModel`, seed 000 SI
Eq. 8) takes the same solution, so the potential and the vertex use one F(q).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from hpcx.units import HBAR2_2M0_MEV_NM2, KB_MEV_PER_K

from . import moire as mp
from . import moire_potential as mpot
from . import phonons as ph
from . import scattering as sc
from . import wannier as wp
from .screening import stack_from_materials

__all__ = ["POTENTIAL_COLUMNS", "MoireModel", "MultivalleyModel", "moire_model", "exciton_potential_model",
           "multivalley_model", "MoireBands", "Exciton1s", "States", "dielectric_stack",
           "exciton_1s", "moire_exciton", "solve_moire_bands", "build_states", "moire_states", "multivalley_states",
           "intervalley_phonons", "broadening_floor", "n_states", "energy_span_bound",
           "lowest_valid_temperature", "MAX_EXPONENT"]

#: largest Delta E / k_B T of a table: the upward rates ~ exp(-Delta E / k_B T) of the golden rule
#: must stay representable in double precision (exp(-745) underflows to 0; 700 leaves 1e19 for
#: the prefactors); detailed balance then gives the downward rates from them
MAX_EXPONENT = 700.0

#: q grid (1/nm) on which the 1s form factor is tabulated and interpolated (0 beyond)
FORM_FACTOR_Q = (0.0, 60.0, 6001)


#: the entries of :meth:`MoireModel.potential_attrs` that depend on the twist angle
POTENTIAL_COLUMNS = ("A_eff_meV", "B_eff_meV", "form_factor_electron", "form_factor_hole")


@dataclasses.dataclass(frozen=True)
class MoireModel:
    """Moiré interlayer excitons of ``system`` (:class:`hpcx.materials.moire.MoireSystem`).

    ``layers``: (electron TMD, hole TMD); ``environment``: the dielectric half-spaces on
    both sides (:class:`hpcx.materials.Environment`); ``phonons``: (electron layer,
    hole layer) :class:`hpcx.materials.phonons.PhononParams`; ``interlayer_distance``
    (nm, mid-plane to mid-plane); ``shells`` plane-wave shells, ``n_bands`` bands kept,
    ``grid`` x ``grid`` Monkhorst-Pack points; couplings below ``coupling_cut`` times a
    mode's largest are dropped; ``potential``: the exciton's moiré potential
    (:class:`hpcx.physics.moire_potential.ExcitonPotentialModel`); ``acoustic_scale``: the
    factor already applied to the acoustic couplings in ``phonons`` (the system's calibration).
    """

    system: object
    layers: tuple
    environment: object
    phonons: tuple
    interlayer_distance: float | None
    shells: int
    n_bands: int
    grid: int
    coupling_cut: float
    potential: mpot.ExcitonPotentialModel
    acoustic_scale: float = 1.0

    name = "moire"

    def geometry(self, twist_deg):
        return mp.MoireGeometry.from_degrees(self.system.a_electron_nm, self.system.a_hole_nm, twist_deg)

    def potential_at(self, twist_deg, exciton=None):
        """:class:`hpcx.physics.moire.MoirePotential` at ``twist_deg`` with the form factor of ``exciton``
        (:class:`Exciton1s`; solved here if None and the potential needs it)."""
        if exciton is None and self.potential.needs_form_factor:
            exciton = self.exciton()
        return self.potential.at(self.geometry(twist_deg), exciton.form_factor if exciton is not None else None)

    def potential_attrs(self, twist_deg, exciton):
        """Run-file attributes of the potential at ``twist_deg`` (docs/output.md)."""
        F_e, F_h = self.potential.form_factors(self.geometry(twist_deg), exciton.form_factor)
        pot = self.potential.at(self.geometry(twist_deg), exciton.form_factor)
        pp = self.potential.point_particle
        return {"potential": self.potential.kind, "conduction_fraction": self.potential.conduction_fraction,
                "A_point_particle_meV": pp.a_meV, "B_point_particle_meV": pp.b_meV, "A_eff_meV": pot.a_meV,
                "B_eff_meV": pot.b_meV, "form_factor_electron": F_e, "form_factor_hole": F_h,
                "binding_energy_1s_meV": exciton.binding_energy, "acoustic_scale": self.acoustic_scale}

    def modes(self):
        """LA, TA, optical modes of the electron's layer (coupling to the electron), then the hole's."""
        return sc.layer_modes(self.phonons[0], "e") + sc.layer_modes(self.phonons[1], "h")

    def stack(self):
        return dielectric_stack(self.layers, self.environment, self.interlayer_distance)

    def exciton(self):
        """The 1s interlayer exciton (electron in layer 0, hole in layer 1) with the layers' band masses."""
        return exciton_1s(self.stack(), self.layers[0].m_e, self.layers[1].m_h, 0, 1)


def moire_model(system, environment, shells, n_bands, grid, coupling_cut, potential="form_factor",
                conduction_fraction=None, A=None, B=None, acoustic_scale=None):
    """:class:`MoireModel` of the moiré system and environment named (hpcx/materials data; raises
    :class:`hpcx.materials.UnknownMaterialError` for unknown names).

    ``potential``: "form_factor" | "point_particle"; ``conduction_fraction`` (None: the data file's
    share of the gap modulation in the conduction band, moire_layer_potentials.toml); ``A``, ``B``
    (meV; None: moire.toml) the point-particle gap modulation; ``acoustic_scale`` (None: the
    system's CALIBRATED scale, phonons.toml [calibration]).
    """
    model, _ = exciton_potential_model(system, potential, conduction_fraction, A, B)
    return _moire_model(system, environment, shells, n_bands, grid, coupling_cut, model, acoustic_scale)


def exciton_potential_model(system, kind="form_factor", conduction_fraction=None, A=None, B=None):
    """(:class:`hpcx.physics.moire_potential.ExcitonPotentialModel`, MoireSystem) of a moiré system named
    (defaults from moire.toml, moire_layer_potentials.toml and the band masses of tmd.toml)."""
    from hpcx import materials
    from hpcx.materials.moire import moire_system
    from hpcx.materials.moire_layer_potentials import layer_potential_data
    sysm = moire_system(system)
    s = layer_potential_data(system).conduction_fraction if conduction_fraction is None else conduction_fraction
    point = mp.MoirePotential.from_ab(sysm.A_meV if A is None else A, sysm.B_meV if B is None else B)
    m_e, m_h = materials.tmd(sysm.electron_layer).m_e, materials.tmd(sysm.hole_layer).m_h
    return mpot.ExcitonPotentialModel(kind, point, float(s), m_e, m_h), sysm


def _moire_model(system, environment, shells, n_bands, grid, coupling_cut, potential, acoustic_scale):
    from hpcx import materials
    from hpcx.materials.moire import moire_system
    from hpcx.materials.phonons import calibration, phonon_params, scale_acoustic
    sysm = moire_system(system)
    layers = (materials.tmd(sysm.electron_layer), materials.tmd(sysm.hole_layer))
    hetero = materials.find_heterostructure(*(t.name for t in layers))
    scale = calibration(system).acoustic_scale if acoustic_scale is None else float(acoustic_scale)
    phonons = tuple(scale_acoustic(phonon_params(t.name), scale) for t in layers)
    return MoireModel(sysm, layers, materials.environment(environment), phonons,
                      hetero.interlayer_distance_nm if hetero is not None else None, shells, n_bands, grid,
                      coupling_cut, potential, scale)


@dataclasses.dataclass(frozen=True)
class MultivalleyModel:
    """Multi-valley excitons of one monolayer (seed 002).

    ``layer``: the TMD; ``valleys``: ((name, :class:`hpcx.materials.phonons.Valley`), ...)
    in model order; ``phonons``: its PhononParams; one ``k_points`` x ``k_points`` grid on
    [-k_max, k_max]^2 (1/nm) per valley.
    """

    layer: object
    environment: object
    phonons: object
    valleys: tuple
    k_max: float
    k_points: int

    name = "multivalley"

    def stack(self):
        return dielectric_stack((self.layer,), self.environment)

    def exciton(self):
        """The 1s exciton with the masses of the first valley (form factor of every valley's vertex)."""
        first = self.valleys[0][1]
        return exciton_1s(self.stack(), first.m_e, first.m_h, 0, 0)


@dataclasses.dataclass(frozen=True)
class MoireBands:
    """Moiré exciton bands on a Monkhorst-Pack grid.

    Q [n_Q, 2] 1/nm, energy [n_Q, n_b] meV, vectors [n_Q, n_b, n_g] plane-wave
    coefficients, velocity [n_Q, n_b, 2] nm/ps, s [n_g, 2] integer plane-wave labels,
    basis [2, 2] reciprocal vectors (rows, 1/nm), cell_area nm^2, period nm (moiré period,
    NaN if unknown), theta_deg.
    """

    Q: np.ndarray
    energy: np.ndarray
    vectors: np.ndarray
    velocity: np.ndarray
    s: np.ndarray
    basis: np.ndarray
    cell_area: float
    theta_deg: float
    period: float = float("nan")

    @property
    def n_g(self):
        return self.vectors.shape[-1]

    @classmethod
    def from_arrays(cls, data):
        """From a mapping with the field names (extra keys, e.g. a file's ``system``, are ignored)."""
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})


@dataclasses.dataclass(frozen=True)
class Exciton1s:
    """The 1s exciton of the vertex: masses m_e, m_h (m0), binding energy (meV), F(q) tabulated on q (1/nm)."""

    m_e: float
    m_h: float
    binding_energy: float
    q: np.ndarray
    F: np.ndarray

    def form_factor(self, p):
        """F(|p|) by linear interpolation, 0 beyond the table (p in 1/nm, any shape)."""
        return np.interp(p, self.q, self.F, right=0.0)


@dataclasses.dataclass
class States:
    """Scattering states of one model, identical on every rank.

    energy [n] meV, velocity [n, 2] nm/ps, weight [n] (state measure of Boltzmann
    averages: 1 for moiré states, d^2k/(2 pi)^2 in 1/nm^2 for valley states), group [n]
    (band or valley index) with ``group_names``, k [n, 2] 1/nm (moiré Q or valley-local
    k), ``binding_energy`` meV of the 1s exciton, ``modes`` the phonon branch names,
    ``model`` "moire" | "multivalley".  :meth:`terms` gives the couplings of a block of
    initial states.
    """

    energy: np.ndarray
    velocity: np.ndarray
    weight: np.ndarray
    group: np.ndarray
    group_names: tuple
    k: np.ndarray
    binding_energy: float
    modes: tuple
    model: str
    _terms: Callable = dataclasses.field(repr=False, default=None)

    @property
    def n(self):
        return len(self.energy)

    def terms(self, start, stop, progress=None):
        """:class:`hpcx.physics.scattering.Terms` of the initial states [start, stop).

        ``progress``: optional object with ``update(rows)``, told about rows as they are done.
        """
        return self._terms(start, stop, progress)


def multivalley_model(material, environment, k_max, k_points):
    """:class:`MultivalleyModel` of the monolayer and environment named (hpcx/materials data; raises
    :class:`hpcx.materials.UnknownMaterialError` for unknown names)."""
    from hpcx import materials
    from hpcx.materials import phonons as phonon_data
    valleys = phonon_data.multivalley_model(material)
    return MultivalleyModel(materials.tmd(material), materials.environment(environment),
                            phonon_data.phonon_params(material), tuple(valleys.items()), k_max, k_points)


def dielectric_stack(layers, environment, interlayer_distance=None):
    """Slab-model stack of ``layers`` (TMDs, bottom to top) with ``environment`` on both sides."""
    return stack_from_materials(list(layers), environment, environment, "slab", interlayer_distance)


def exciton_1s(stack, m_e, m_h, electron_layer, hole_layer):
    """:class:`Exciton1s` of the Wannier equation screened by ``stack`` (masses m0, layer indices)."""
    res = wp.solve_wannier(m_e * m_h / (m_e + m_h), lambda q: stack.epsilon(q, electron_layer, hole_layer),
                           ("1s",))
    q = np.linspace(*FORM_FACTOR_Q)
    F = res.form_factor("1s", q)        # in the library's 8 MiB kernel blocks: below the scattering tables
    return Exciton1s(m_e, m_h, float(res.binding_energy_meV[0]), q, F)


def moire_exciton(system, environment=None):
    """:class:`Exciton1s` of the interlayer exciton of a :class:`hpcx.materials.moire.MoireSystem` (electron
    layer 0, hole layer 1, band masses of tmd.toml, slab stack in ``environment``, default the system's)."""
    from hpcx import materials
    layers = (materials.tmd(system.electron_layer), materials.tmd(system.hole_layer))
    hetero = materials.find_heterostructure(*(t.name for t in layers))
    stack = dielectric_stack(layers, materials.environment(environment or system.environment),
                             hetero.interlayer_distance_nm if hetero is not None else None)
    return exciton_1s(stack, layers[0].m_e, layers[1].m_h, 0, 1)


def solve_moire_bands(system, twist_deg, shells, grid, n_bands, potential=None):
    """:class:`MoireBands` of ``system`` at ``twist_deg`` on a grid x grid Monkhorst-Pack grid.

    ``potential``: the :class:`hpcx.physics.moire.MoirePotential` at this angle
    (:meth:`MoireModel.potential_at`); None: the point-particle A, B of ``system``.
    """
    geo = mp.MoireGeometry.from_degrees(system.a_electron_nm, system.a_hole_nm, twist_deg)
    if potential is None:
        potential = mp.MoirePotential.from_ab(system.A_meV, system.B_meV)
    ham = mp.MoireHamiltonian(geo, potential, system.exciton_mass, shells)
    Q, _ = geo.monkhorst_pack(grid)
    b = ham.solve(Q, n_bands)
    return MoireBands(Q, b.energy, b.vectors, b.velocity, ham.s, geo.reciprocal_basis, geo.cell_area_nm2,
                      float(twist_deg), geo.period_nm)


def moire_states(bands, exciton, modes, coupling_cut):
    """:class:`States` of moiré ``bands`` (state i = iQ * n_bands + band) with ``modes`` (scattering.Mode)."""
    Q, E = bands.Q, bands.energy
    n_b = E.shape[1]

    def terms(start, stop, progress=None):
        return sc.moire_terms(Q, E, bands.vectors, bands.s, bands.basis, bands.cell_area, modes,
                              exciton.form_factor, exciton.m_e, exciton.m_h, start, stop,
                              coupling_cut=coupling_cut, progress=progress)

    return States(E.reshape(-1), bands.velocity.reshape(-1, 2), np.ones(E.size), np.tile(np.arange(n_b), len(Q)),
                  tuple(f"band{b}" for b in range(n_b)), np.repeat(Q, n_b, axis=0), exciton.binding_energy,
                  tuple(m.name for m in modes), "moire", terms)


def intervalley_phonons(params, names):
    """Intervalley phonons of seed 002's model: K-K' (K phonons), K-Lambda and K'-Lambda (Q phonons).

    ``params``: PhononParams; ``names``: the valleys present.  Returns
    {(valley_a, valley_b): [(omega meV, D0 meV/nm), ...]}.
    """
    kkp = [(params.E_KKp_ac, params.D0_KKp_ac_e), (params.E_KKp_op, params.D0_KKp_op_e)]
    kq = [(params.E_KQ_ac, params.D0_KQ_ac_e), (params.E_KQ_op, params.D0_KQ_op_e)]
    out = {}
    if "KK" in names and "KKp" in names:
        out[("KK", "KKp")] = kkp
    for a in ("KK", "KKp"):
        if a in names and "KL" in names:
            out[(a, "KL")] = kq
    return out


def multivalley_states(model, exciton):
    """:class:`States` of a :class:`MultivalleyModel` (valleys in model order, one k-grid each)."""
    grid = ph.multivalley_grid(dict(model.valleys), model.k_max, model.k_points)
    chans = ph.multivalley_channels(grid, model.phonons, exciton.form_factor,
                                    intervalley_phonons(model.phonons, grid.names))

    def terms(start, stop, progress=None):
        out = sc.channel_terms(chans, start, stop)
        if progress is not None:
            progress.update(stop - start)
        return out

    return States(grid.E, grid.v, np.full(len(grid.E), grid.weight), grid.valley, tuple(grid.names), grid.k,
                  exciton.binding_energy, tuple(c.name for c in chans), "multivalley", terms)


def build_states(model, twist_deg=None, bands=None, exciton=None):
    """(:class:`States`, :class:`MoireBands` or None) of ``model``; moiré bands are ``bands`` if
    given, else solved at ``twist_deg``; ``exciton``: the model's :class:`Exciton1s` if already
    solved (the vertex and the moiré potential use it)."""
    if exciton is None:
        exciton = model.exciton()
    if isinstance(model, MultivalleyModel):
        return multivalley_states(model, exciton), None
    if bands is None:
        bands = solve_moire_bands(model.system, twist_deg, model.shells, model.grid, model.n_bands,
                                  model.potential_at(twist_deg, exciton))
    return moire_states(bands, exciton, model.modes(), model.coupling_cut), bands


def broadening_floor(model, width_min):
    """Floor of the broadening HWHM (meV): ``width_min``, and for the multi-valley model at least
    half the grid's energy spacing hbar^2 k dk / M at k = k_max / 2 of the lightest valley.

    The parabolic valleys' energy spacing on a k-grid (~10 meV for the defaults) is far above
    acoustic phonon energies; with a narrower broadening energy conservation finds no final
    state for whole rings of states, whose out-rates then collapse to ~1e-11 1/ps.
    """
    if not isinstance(model, MultivalleyModel):
        return width_min
    M = min(val.m_e + val.m_h for _, val in model.valleys)
    dk = 2.0 * model.k_max / model.k_points
    return max(width_min, 0.5 * HBAR2_2M0_MEV_NM2 * model.k_max * dk / M)


def n_states(model):
    """Number of states of a model solved in-process."""
    if isinstance(model, MultivalleyModel):
        return len(model.valleys) * model.k_points ** 2
    return model.grid ** 2 * model.n_bands


def energy_span_bound(model, twist_deg):
    """Upper bound of max E - min E over the states (meV), without solving the model.

    Multi-valley: exact (the parabolas on the grid).  Moiré: by Weyl's inequality the
    eigenvalues of H0 + M lie within [min M, max M] of those of the free exciton H0, so
    the span is at most max_Q E0_{n_bands}(Q) - min_Q E0_1(Q) + max M - min M (free
    energies on the grid; the range of M bounded for any form factor,
    :meth:`hpcx.physics.moire_potential.ExcitonPotentialModel.range_bound`).
    """
    if isinstance(model, MultivalleyModel):
        grid = ph.multivalley_grid(dict(model.valleys), model.k_max, model.k_points)
        return float(np.ptp(grid.E))
    system = model.system
    geo = mp.MoireGeometry.from_degrees(system.a_electron_nm, system.a_hole_nm, twist_deg)
    g, _ = mp.plane_wave_basis(geo, model.shells)
    Q, _ = geo.monkhorst_pack(model.grid)
    free = np.sort(np.sum((Q[:, None, :] + g[None, :, :]) ** 2, axis=-1), axis=1)
    free *= HBAR2_2M0_MEV_NM2 / system.exciton_mass
    nb = min(model.n_bands, free.shape[1])
    return float(free[:, nb - 1].max() - free[:, 0].min() + model.potential.range_bound())


def lowest_valid_temperature(span_meV):
    """Lowest temperature (K) at which tables over states spanning ``span_meV`` stay representable
    (Delta E / k_B T <= :data:`MAX_EXPONENT`)."""
    return float(span_meV) / (MAX_EXPONENT * KB_MEV_PER_K)
