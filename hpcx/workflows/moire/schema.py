"""Config schema of the ``moire`` workflow and its translation into typed parameters."""

from __future__ import annotations

import dataclasses

from ...config import Field, Schema, Section
from ...errors import ConfigError
from ...materials import UnknownMaterialError
from ...materials.moire import MoireSystem, moire_names, moire_system
from ...physics import moire as mp
from ...physics import moire_potential as mpot
from ...physics import scattering_states as ss

MOIRE = Section("moire", (
    Field("system", str, "MoSe2-WSe2/hBN", "heterobilayer and interlayer exciton (hpcx/materials/moire.toml)"),
    Field("twist_deg", float, 3.0, "twist angle of the band-structure calculation", unit="deg",
          minimum=0.0, maximum=30.0),
    Field("shells", int, 10, "plane-wave cutoff g_cut: moiré reciprocal vectors in shells 0..shells "
          "(shell 0 = {0}; 10 shells = 85 plane waves)", minimum=1, maximum=60),
    Field("n_bands", int, 6, "number of lowest bands kept", minimum=2),
    Field("path_points", int, 121, "points on the path gamma-kappa-m-gamma (spread by segment length)",
          minimum=4, maximum=100000),
    Field("grid", int, 24, "n of the Gamma-centred n x n Monkhorst-Pack grid on the mini-BZ", minimum=3,
          maximum=300),
    Field("twist_scan", float, (), "twist angles of the bandwidth/gap scan (empty: no scan)", unit="deg",
          list_of=True, minimum=0.0, maximum=30.0),
    Field("scan_grid", int, 12, "n of the n x n grid (plus the path) used for the scan's band extrema",
          minimum=3, maximum=300),
    Field("include_mismatch", bool, True, "use both layers' lattice constants (false: both = electron "
          "layer's, as seed 003)"),
    Field("potential", str, "form_factor", "the exciton's moiré potential: 'form_factor' = the gap modulation "
          "A, B split between the conduction and the valence band, each weighted by the 1s form factor of the "
          "system's Wannier problem (seed 000 SI Eq. 8; falls with the twist angle), 'point_particle' = A, B "
          "at every angle (seed 003 App. II)", choices=("form_factor", "point_particle")),
    Field("conduction_fraction", float, None, "share s of the gap modulation carried by the electron's "
          "conduction band (default: hpcx/materials/moire_layer_potentials.toml, ASSUMED 0.5)",
          minimum=0.0, maximum=1.0),
    Field("A", float, None, "override of the point-particle cosine amplitude A of the gap modulation "
          "(default: material data)", unit="meV"),
    Field("B", float, None, "override of the point-particle sine amplitude B of the gap modulation "
          "(default: material data)", unit="meV"),
    Field("exciton_mass", float, None, "override of the exciton mass (default: material data)", unit="m0",
          minimum=0.0, exclusive=True),
    Field("dos_sigma", float, 1.0, "Gaussian broadening of the density of states", unit="meV",
          minimum=0.0, exclusive=True),
    Field("dos_points", int, 400, "energies of the DOS grid", minimum=2),
    Field("map_points", int, 121, "n of the n x n real-space potential map", minimum=2, maximum=2000),
    Field("map_cells", float, 2.0, "side of the potential map in moiré periods", minimum=0.0, exclusive=True),
    Field("write_vectors", bool, True, "write the grid eigenvectors omega_g(Q) (needed by `scattering`)"),
), doc="Moiré superlattice, continuum potential and zone-folded bands.", required=True)

SCHEMA = Schema("moire", (MOIRE,),
                doc="Moiré exciton bands, velocities, DOS and twist scan (seed 000 SI Eqs. 4-9, Figs. S1, S2; "
                    "seed 003 App. II).")

SCAN_PATH_POINTS = 31       # path points added to the scan grid for the band extrema of each angle


@dataclasses.dataclass(frozen=True)
class Params:
    """Everything a ``moire`` run needs, resolved and checked.

    ``potential``: the exciton potential model (point-particle gap modulation with the config
    overrides of A, B, its conduction/valence split, the form-factor or point-particle rule);
    ``mass`` the exciton mass with its override; ``geometry`` the superlattice at ``theta_deg``.
    """

    system: MoireSystem
    potential: mpot.ExcitonPotentialModel
    mass: float                     # exciton mass, m0
    theta_deg: float
    geometry: mp.MoireGeometry
    include_mismatch: bool
    shells: int
    n_g: int                        # plane waves of ``shells``
    n_bands: int
    path_points: int
    grid: int
    twist_scan: tuple               # deg
    scan_grid: int
    dos_sigma: float                # meV
    dos_points: int
    map_points: int
    map_cells: float
    write_vectors: bool

    def geometry_at(self, theta_deg):
        """The superlattice of this system at another twist angle."""
        return mp.MoireGeometry.for_layers(self.system.a_electron_nm, self.system.a_hole_nm, theta_deg,
                                           self.include_mismatch)


def _system(cfg):
    try:
        return moire_system(cfg.moire.system)
    except UnknownMaterialError:
        raise ConfigError(cfg.source, "moire.system", f"unknown moire system {cfg.moire.system!r}; "
                          f"known: {', '.join(moire_names())}") from None


def _check_angles(cfg, system):
    m = cfg.moire
    for key, angles in (("moire.twist_deg", [m.twist_deg]), ("moire.twist_scan", m.twist_scan)):
        for theta in angles:
            try:
                _ = mp.MoireGeometry.for_layers(system.a_electron_nm, system.a_hole_nm, theta,
                                                m.include_mismatch).g
            except ValueError as exc:
                raise ConfigError(cfg.source, key, f"{theta} deg: {exc}") from None
    if len(set(m.twist_scan)) != len(m.twist_scan):
        raise ConfigError(cfg.source, "moire.twist_scan", "angles must be distinct")


def params(cfg, comm_size=1):
    """Typed parameters of a validated ``moire`` config; raises ConfigError."""
    m = cfg.moire
    system = _system(cfg)
    n_g = mp.basis_size(m.shells)
    if m.n_bands > n_g:
        raise ConfigError(cfg.source, "moire.n_bands", f"{m.n_bands} bands need more plane waves than "
                          f"the {n_g} of {m.shells} shells; raise moire.shells")
    _check_angles(cfg, system)
    potential, _ = ss.exciton_potential_model(system.name, m.potential, m.conduction_fraction, m.A, m.B)
    return Params(
        system=system, potential=potential,
        mass=system.exciton_mass if m.exciton_mass is None else m.exciton_mass,
        theta_deg=m.twist_deg, include_mismatch=m.include_mismatch,
        geometry=mp.MoireGeometry.for_layers(system.a_electron_nm, system.a_hole_nm, m.twist_deg,
                                             m.include_mismatch),
        shells=m.shells, n_g=n_g, n_bands=m.n_bands, path_points=m.path_points, grid=m.grid,
        twist_scan=tuple(m.twist_scan), scan_grid=m.scan_grid, dos_sigma=m.dos_sigma,
        dos_points=m.dos_points, map_points=m.map_points, map_cells=m.map_cells,
        write_vectors=m.write_vectors)
