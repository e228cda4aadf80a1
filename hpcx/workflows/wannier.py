"""Workflow ``wannier``: exciton Wannier equation with (hetero)bilayer screening.

Config -> dielectric stack and exciton species -> independent (species, |m|)
eigenproblems distributed over MPI ranks -> /results/excitons/<name>/...
"""

from __future__ import annotations

import numpy as np

from .. import materials
from ..config import Field, Schema, Section
from ..errors import ConfigError
from ..log import Progress, get_logger
from ..parallel import allgather_blocks, local_items
from ..physics import wannier as wannier_physics
from ..physics.screening import Environment, LayeredDielectric, SheetLayer, SlabLayer

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


def _lookup(kind, name, source, key):
    try:
        return getattr(materials, kind)(name)
    except materials.UnknownMaterialError as exc:
        raise ConfigError(source, key, str(exc)) from None


def check(cfg):
    """Semantic checks needing the material data; raises ConfigError."""
    build_stack(cfg)
    species = resolve_species(cfg)
    layers = cfg.structure.layers
    for i, sp in enumerate(species):
        for side in ("electron_layer", "hole_layer"):
            if sp[side] >= len(layers):
                raise ConfigError(cfg.source, f"wannier.species[{i}].{side}",
                                  f"{sp[side]} is not a layer index; allowed: 0..{len(layers) - 1}")
    names = [sp["name"] for sp in species]
    if len(set(names)) != len(names):
        raise ConfigError(cfg.source, "wannier.species", f"species names must be unique, got {names}")
    for i, label in enumerate(cfg.wannier.states):
        try:
            wannier_physics.parse_state(label)
        except ValueError as exc:
            raise ConfigError(cfg.source, f"wannier.states[{i}]", str(exc)) from None
    w = cfg.wannier
    if w.basis_min_exponent >= w.basis_max_exponent:
        raise ConfigError(cfg.source, "wannier.basis_max_exponent", "must be larger than basis_min_exponent")


def build_stack(cfg):
    """(LayeredDielectric, [TMD], heterostructure data or None) for the config."""
    st, src = cfg.structure, cfg.source
    if len(st.layers) > 2:
        raise ConfigError(src, "structure.layers", f"{len(st.layers)} layers given; allowed: 1 or 2")
    tmds = [_lookup("tmd", name, src, f"structure.layers[{i}]") for i, name in enumerate(st.layers)]
    substrate = _lookup("environment", st.substrate, src, "structure.substrate")
    superstrate = _lookup("environment", st.superstrate, src, "structure.superstrate")
    hetero = None
    distance = st.interlayer_distance
    if len(tmds) == 2:
        hetero = find_heterostructure(tmds[0].name, tmds[1].name)
        if distance is None:
            if hetero is None:
                raise ConfigError(src, "structure.interlayer_distance",
                                  f"no heterostructure data for {tmds[0].name}/{tmds[1].name}; "
                                  f"give interlayer_distance (nm) or use one of "
                                  f"{', '.join(materials.names('heterostructure'))}")
            distance = hetero.interlayer_distance_nm
    layer_models = [_layer_model(t, st.screening) for t in tmds]
    stack = LayeredDielectric(Environment(substrate.eps_par, substrate.eps_perp), layer_models,
                              Environment(superstrate.eps_par, superstrate.eps_perp),
                              interlayer_distance_nm=distance)
    return stack, tmds, hetero


def _layer_model(tmd, screening):
    if screening == "sheet":
        return SheetLayer(tmd.chi2d_nm)
    return SlabLayer(tmd.slab_thickness_nm, tmd.eps_par, tmd.eps_perp)


def find_heterostructure(bottom, top):
    """Heterostructure data for this pair of materials (either order), or None."""
    for name in materials.names("heterostructure"):
        hetero = materials.heterostructure(name)
        if sorted(hetero.layers) == sorted((bottom, top)):
            return hetero
    return None


def resolve_species(cfg):
    """Species as dicts: name, electron_layer, hole_layer, electron_mass, hole_mass (None = data)."""
    if cfg.wannier.species:
        return [dict(name=s.name, electron_layer=s.electron_layer, hole_layer=s.hole_layer,
                     electron_mass=s.electron_mass, hole_mass=s.hole_mass) for s in cfg.wannier.species]
    layers = cfg.structure.layers
    species = [dict(name=name if layers.count(name) == 1 else f"{name}_{i}", electron_layer=i,
                    hole_layer=i, electron_mass=None, hole_mass=None) for i, name in enumerate(layers)]
    if len(layers) == 2:
        hetero = find_heterostructure(layers[0], layers[1])
        if hetero is not None:
            e = layers.index(hetero.electron_layer)
            h = layers.index(hetero.hole_layer)
            species.append(dict(name=f"{layers[e]}-{layers[h]}", electron_layer=e, hole_layer=h,
                                electron_mass=None, hole_mass=None))
    return species


def _band_gap(tmds, hetero, electron_layer, hole_layer):
    """Quasiparticle gap (eV) between the electron's CB and the hole's VB."""
    e, h = tmds[electron_layer].name, tmds[hole_layer].name
    if e == h:
        gap_meV = hetero.gaps_meV[e] if hetero is not None else tmds[electron_layer].band_gap_meV
    elif hetero is not None and (e, h) == (hetero.electron_layer, hetero.hole_layer):
        gap_meV = hetero.interlayer_gap_meV
    else:
        gap_meV = float("nan")  # no band alignment data for this pair
    return 1e-3 * gap_meV


def run(cfg, writer, comm, timer):
    log = get_logger("wannier")
    w = cfg.wannier
    basis = wannier_physics.GaussianBasis(w.basis_min_exponent, w.basis_max_exponent, w.basis_size)
    with timer.phase("setup"):
        stack, tmds, hetero = build_stack(cfg)
        species = resolve_species(cfg)
        for sp in species:
            sp["electron_mass"] = sp["electron_mass"] or tmds[sp["electron_layer"]].m_e
            sp["hole_mass"] = sp["hole_mass"] or tmds[sp["hole_layer"]].m_h
            sp["reduced_mass"] = sp["electron_mass"] * sp["hole_mass"] / (sp["electron_mass"] + sp["hole_mass"])
        states = tuple(s.strip().lower() for s in w.states)
        need = {}
        for label in states:
            n, m = wannier_physics.parse_state(label)
            need[m] = max(need.get(m, 0), n - m)
        problems = [(i, m, k) for i in range(len(species)) for m, k in sorted(need.items())]
        log.info("%d species x %d angular momenta = %d eigenproblems on %d rank(s), basis of %d Gaussians",
                 len(species), len(need), len(problems), comm.size, basis.n)

    with timer.phase("solve"):
        offset, mine = local_items(problems, comm)
        solved = []
        progress = Progress(len(mine), "eigenproblems (rank 0)", log, unit="problems")
        for i, m, k in mine:
            sp = species[i]
            eps = _epsilon(stack, sp["electron_layer"], sp["hole_layer"])
            solved.append(((i, m), wannier_physics.solve_angular_momentum(m, sp["reduced_mass"], eps, k, basis)))
            progress.update()
        solutions = dict(allgather_blocks(solved, comm))

    with timer.phase("observables"):
        r = np.linspace(0.0, w.r_max, w.n_r)
        k = np.linspace(0.0, w.k_max, w.n_k)
        q = np.linspace(0.0, w.q_max, w.n_q)
        results = []
        for i, sp in enumerate(species):
            sols = {m: solutions[(i, m)] for m in need}
            res = wannier_physics.result_from_solutions(states, sols)
            gap = _band_gap(tmds, hetero, sp["electron_layer"], sp["hole_layer"])
            results.append((sp, res, gap))
            log.info("%-14s mu=%.3f m0  " + "  ".join(f"{s}: {e:7.1f} meV" for s, e in
                                                      zip(states, res.binding_energy_meV)),
                     sp["name"], sp["reduced_mass"])

    with timer.phase("write"):
        writer.group("results/excitons")
        for sp, res, gap in results:
            _write_species(writer, sp, res, gap, tmds, stack, r, k, q)


def _epsilon(stack, electron_layer, hole_layer):
    return lambda q: stack.epsilon(q, electron_layer, hole_layer)


def _write_species(writer, sp, res, gap, tmds, stack, r, k, q):
    g = f"results/excitons/{sp['name']}"
    writer.group(g, attrs={
        "electron_layer": sp["electron_layer"], "hole_layer": sp["hole_layer"],
        "electron_material": tmds[sp["electron_layer"]].name, "hole_material": tmds[sp["hole_layer"]].name,
        "electron_mass_m0": sp["electron_mass"], "hole_mass_m0": sp["hole_mass"],
        "reduced_mass_m0": sp["reduced_mass"], "interlayer": sp["electron_layer"] != sp["hole_layer"],
    })
    states = list(res.states)
    writer.write(f"{g}/states", states, units="label")
    writer.write(f"{g}/binding_energy", res.binding_energy_meV, units="meV")
    writer.write(f"{g}/band_gap", gap, units="eV", attrs={"note": "quasiparticle gap from the material data"})
    writer.write(f"{g}/energy", gap - 1e-3 * res.binding_energy_meV, units="eV",
                 attrs={"definition": "band_gap - binding_energy"})
    writer.write(f"{g}/rms_radius", res.rms_radius_nm, units="nm")
    writer.write(f"{g}/r", r, units="nm")
    writer.write(f"{g}/phi_r", np.array([res.phi_r(s, r) for s in states]), units="1/nm",
                 attrs={"shape": "[state, r]", "normalisation": "int d^2r |phi(r)|^2 = 1"})
    writer.write(f"{g}/k", k, units="1/nm")
    writer.write(f"{g}/phi_k", np.array([res.phi_k(s, k) for s in states]), units="nm",
                 attrs={"shape": "[state, k]", "normalisation": "int d^2k/(2pi)^2 |phi(k)|^2 = 1"})
    writer.write(f"{g}/q", q, units="1/nm")
    writer.write(f"{g}/form_factor", res.form_factor("1s", q) if "1s" in states else np.full_like(q, np.nan),
                 units="", attrs={"definition": "F(q) = sum_k phi_1s*(k) phi_1s(k+q) = int d^2r |phi_1s(r)|^2 e^{iq.r}"})
    writer.write(f"{g}/epsilon", stack.epsilon(np.maximum(q, 1e-6), sp["electron_layer"], sp["hole_layer"]),
                 units="", attrs={"definition": "effective eps(q): V(q) = e^2/(2 eps0 q eps(q)), on the q grid"})
