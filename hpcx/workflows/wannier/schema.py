"""Config schema of the ``wannier`` workflow and its translation into typed parameters."""

from __future__ import annotations

import dataclasses

from ... import materials
from ...checks import require_interval
from ...config import Field, Schema, Section
from ...errors import ConfigError
from ...physics import wannier as wannier_physics
from ...physics.screening import LayeredDielectric, stack_from_materials

SPECIES = Section("species", (
    Field("name", str, doc="group name under /results/excitons"),
    Field("electron_layer", int, doc="index of the electron's layer in structure.layers (0 = bottom)", minimum=0),
    Field("hole_layer", int, doc="index of the hole's layer in structure.layers (0 = bottom)", minimum=0),
    Field("electron_mass", float, None, "electron mass (default: the layer's material data)",
          unit="m0", minimum=0.0, exclusive=True),
    Field("hole_mass", float, None, "hole mass (default: the layer's material data)",
          unit="m0", minimum=0.0, exclusive=True),
), doc="An exciton species (electron layer, hole layer, optional mass overrides).")

STRUCTURE = Section("structure", (
    Field("layers", str, doc="TMD layers from bottom (on the substrate) to top: one (monolayer) or two "
          "(heterobilayer); names from hpcx/materials/tmd.toml", list_of=True, min_items=1),
    Field("substrate", str, "vacuum", "half-space below the layers (hpcx/materials/environments.toml)"),
    Field("superstrate", str, "vacuum", "half-space above the layers (hpcx/materials/environments.toml)"),
    Field("screening", str, "slab", "layer model: 'slab' = finite slab with the bulk dielectric tensor "
          "(seed 001's two-slab Poisson problem), 'sheet' = Rytova-Keldysh polarizable sheet (chi2d)",
          choices=("slab", "sheet")),
    Field("interlayer_distance", float, None, "distance of the two layers' mid-planes (sheet model; "
          "default: hpcx/materials/heterostructures.toml)", unit="nm", minimum=0.0, exclusive=True),
), doc="The dielectric stack: substrate, TMD layers, superstrate.", required=True)

WANNIER = Section("wannier", (
    Field("states", str, ("1s", "2s", "3s", "2p"), "states to solve for, '<n><s|p|d|f>'", list_of=True, min_items=1),
    Field("species", SPECIES, (), "exciton species (default: every intralayer exciton, plus the "
          "interlayer exciton of the heterostructure data)", list_of=True),
    Field("basis_size", int, wannier_physics.DEFAULT_BASIS.n, "number of even-tempered Gaussians per |m|",
          minimum=8, maximum=1000),
    Field("basis_min_exponent", float, wannier_physics.DEFAULT_BASIS.a_min, "smallest Gaussian exponent",
          unit="1/nm^2", minimum=0.0, exclusive=True),
    Field("basis_max_exponent", float, wannier_physics.DEFAULT_BASIS.a_max, "largest Gaussian exponent",
          unit="1/nm^2", minimum=0.0, exclusive=True),
    Field("r_max", float, 15.0, "end of the real-space grid of phi(r)", unit="nm", minimum=0.0, exclusive=True),
    Field("n_r", int, 301, "points of the real-space grid", minimum=2),
    Field("k_max", float, 10.0, "end of the momentum grid of phi(k)", unit="1/nm", minimum=0.0, exclusive=True),
    Field("n_k", int, 301, "points of the momentum grid", minimum=2),
    Field("q_max", float, 20.0, "end of the q grid of the 1s form factor", unit="1/nm", minimum=0.0, exclusive=True),
    Field("n_q", int, 401, "points of the form-factor q grid", minimum=2),
), doc="Wannier-equation settings.")

SCHEMA = Schema("wannier", (STRUCTURE, WANNIER),
                doc="Exciton binding energies, wavefunctions and form factors (seed 001 Methods, Eq. 1).")


@dataclasses.dataclass(frozen=True)
class Grid:
    """A uniform grid [0, end] of ``n`` points (nm or 1/nm)."""

    end: float
    n: int


@dataclasses.dataclass(frozen=True)
class Params:
    """Everything a ``wannier`` run needs, resolved and checked.

    ``layers`` are the TMDs bottom to top, ``gaps_eV`` the quasiparticle gap of
    each species (NaN without band-alignment data).
    """

    stack: LayeredDielectric
    layers: tuple
    species: tuple            # of physics.wannier.Species, masses resolved
    gaps_eV: tuple
    states: tuple
    basis: wannier_physics.GaussianBasis
    r: Grid
    k: Grid
    q: Grid


def lookup(kind, name, source, key):
    """``materials.<kind>(name)``, or a ConfigError naming ``key``."""
    try:
        return getattr(materials, kind)(name)
    except materials.UnknownMaterialError as exc:
        raise ConfigError(source, key, str(exc)) from None


def _stack(cfg, tmds):
    st, src = cfg.structure, cfg.source
    substrate = lookup("environment", st.substrate, src, "structure.substrate")
    superstrate = lookup("environment", st.superstrate, src, "structure.superstrate")
    hetero = materials.find_heterostructure(tmds[0].name, tmds[1].name) if len(tmds) == 2 else None
    distance = st.interlayer_distance
    if len(tmds) == 2 and distance is None:
        if hetero is None:
            raise ConfigError(src, "structure.interlayer_distance",
                              f"no heterostructure data for {tmds[0].name}/{tmds[1].name}; "
                              f"give interlayer_distance (nm) or use one of "
                              f"{', '.join(materials.names('heterostructure'))}")
        distance = hetero.interlayer_distance_nm
    return stack_from_materials(tmds, substrate, superstrate, st.screening, distance), hetero


def _default_species(names, hetero):
    """Every intralayer exciton, plus the interlayer one of the heterostructure data."""
    out = [(name if names.count(name) == 1 else f"{name}_{i}", i, i, None, None) for i, name in enumerate(names)]
    if hetero is not None:
        e, h = names.index(hetero.electron_layer), names.index(hetero.hole_layer)
        out.append((f"{names[e]}-{names[h]}", e, h, None, None))
    return out


def _species(cfg, tmds, hetero):
    given = [(s.name, s.electron_layer, s.hole_layer, s.electron_mass, s.hole_mass) for s in cfg.wannier.species]
    raw = given or _default_species(list(cfg.structure.layers), hetero)
    for i, (_, e, h, _, _) in enumerate(raw):
        for side, layer in (("electron_layer", e), ("hole_layer", h)):
            if layer >= len(tmds):
                raise ConfigError(cfg.source, f"wannier.species[{i}].{side}",
                                  f"{layer} is not a layer index; allowed: 0..{len(tmds) - 1}")
    names = [r[0] for r in raw]
    if len(set(names)) != len(names):
        raise ConfigError(cfg.source, "wannier.species", f"species names must be unique, got {names}")
    return tuple(wannier_physics.Species(name, e, h, me or tmds[e].m_e, mh or tmds[h].m_h)
                 for name, e, h, me, mh in raw)


def _states(cfg):
    for i, label in enumerate(cfg.wannier.states):
        try:
            wannier_physics.parse_state(label)
        except ValueError as exc:
            raise ConfigError(cfg.source, f"wannier.states[{i}]", str(exc)) from None
    states = tuple(s.strip().lower() for s in cfg.wannier.states)
    for i, label in enumerate(states):
        if label in states[:i]:
            raise ConfigError(cfg.source, f"wannier.states[{i}]", f"{label!r} is listed twice")
    return states


def params(cfg, comm_size=1):
    """Typed parameters of a validated ``wannier`` config; raises ConfigError."""
    st, w = cfg.structure, cfg.wannier
    if len(st.layers) > 2:
        raise ConfigError(cfg.source, "structure.layers", f"{len(st.layers)} layers given; allowed: 1 or 2")
    tmds = tuple(lookup("tmd", name, cfg.source, f"structure.layers[{i}]") for i, name in enumerate(st.layers))
    stack, hetero = _stack(cfg, tmds)
    species = _species(cfg, tmds, hetero)
    require_interval(cfg.source, "wannier.basis_min_exponent", w.basis_min_exponent,
                     "wannier.basis_max_exponent", w.basis_max_exponent, unit="1/nm^2")
    gaps = tuple(1e-3 * materials.quasiparticle_gap_meV(tmds[s.electron_layer].name, tmds[s.hole_layer].name,
                                                        hetero) for s in species)
    return Params(stack=stack, layers=tmds, species=species, gaps_eV=gaps, states=_states(cfg),
                  basis=wannier_physics.GaussianBasis(w.basis_min_exponent, w.basis_max_exponent, w.basis_size),
                  r=Grid(w.r_max, w.n_r), k=Grid(w.k_max, w.n_k), q=Grid(w.q_max, w.n_q))
