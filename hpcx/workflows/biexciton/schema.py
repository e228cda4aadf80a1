"""Config schema of the ``biexciton`` workflow and its translation into typed parameters."""

from __future__ import annotations

import dataclasses

from ...config import Field, Schema, Section
from ...errors import ConfigError
from ...materials import UnknownMaterialError
from ...materials.moire import MoireSystem, trapped_exciton_system
from ...physics import biexciton as bx
from ...physics import moire as mp

BIEXCITON = Section("biexciton", (
    Field("system", str, "MoSe2-WSe2/hBN", "trapped-exciton system (hpcx/materials/biexciton.toml): moiré "
          "system, heterostructure (dipole length d) and eps_r"),
    Field("twist_deg", float, 1.0, "twist angle of the spectra, decay amplitudes, PL and lifetime ratio",
          unit="deg", minimum=0.0, exclusive=True, maximum=3.0),
    Field("twist_scan", float, (0.5, 0.6, 0.7, 0.8, 0.9, 1.0), "twist angles of the repulsion scan",
          unit="deg", list_of=True, minimum=0.0, exclusive=True, maximum=3.0),
    Field("epsilon", float, None, "override of eps_r of Eq. 27 (default: material data)", minimum=0.0,
          exclusive=True),
    Field("epsilon_scan", float, (), "eps_r values of the environment scan (empty: the system's eps_r only)",
          list_of=True, minimum=0.0, exclusive=True),
    Field("dipole_length", float, None, "override of the dipole length d of Eq. 27 (default: interlayer "
          "distance of the heterostructure)", unit="nm", minimum=0.0),
    Field("include_mismatch", bool, True, "use both layers' lattice constants for a_M (false: a_M = a/theta "
          "as seed 003)"),
    Field("n_radial", int, 80, "relative-motion oscillator functions per l_r (Eq. 33 basis size)",
          minimum=8, maximum=400),
    Field("lifetime_n_radial", int, 240, "relative-motion basis of the lifetime-ratio scan (small dipoles "
          "converge slowly: the repulsive core is then much narrower than the trap)", minimum=8, maximum=1000),
    Field("convergence_tol", float, 0.1, "largest allowed change of Delta_xx from n_radial/2 to n_radial "
          "basis functions", unit="meV", minimum=0.0, exclusive=True),
    Field("window", int, 10, "states kept: single excitons with N <= window quanta, biexcitons within "
          "window * hbar omega0 of their ground state", minimum=2, maximum=24),
    Field("fillings", float, (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75), "filling factors (excitons per "
          "moiré cell) of the PL; 0 < f < 2", list_of=True, min_items=1, minimum=0.0, exclusive=True),
    Field("temperatures", float, (30.0, 300.0), "effective exciton temperatures of the PL", unit="K",
          list_of=True, min_items=1, minimum=0.0, exclusive=True),
    Field("pl_min", float, -1.5, "lowest PL photon energy, in hbar omega0 above the trap bottom -U0"),
    Field("pl_max", float, 4.0, "highest PL photon energy, in hbar omega0 above the trap bottom -U0"),
    Field("pl_points", int, 551, "PL energy grid points", minimum=2, maximum=100000),
    Field("linewidth", float, 1.0, "Lorentzian half width of every PL line", unit="meV", minimum=0.0,
          exclusive=True),
    Field("dipole_scales", float, (0.0, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0), "factors on d for "
          "the lifetime ratio curve zeta(Delta_xx/hbar omega0) (Fig. 4c)", list_of=True, minimum=0.0),
), doc="Moiré-trapped single and biexcitons: trap, dipolar repulsion, decay, PL, lifetimes.", required=True)

SCHEMA = Schema("biexciton", (BIEXCITON,),
                doc="Moiré-trapped single excitons and repulsive biexcitons: repulsion energy vs twist and "
                    "dielectric environment, PL vs filling, lifetime ratio (seed 003 Eqs. 21-47).")


@dataclasses.dataclass(frozen=True)
class Params:
    """Everything a ``biexciton`` run needs, resolved and checked.

    ``d_nm`` and ``eps_r`` carry the config overrides; ``eps_scan`` are the
    eps_r values of the repulsion scan (the system's eps_r without a scan).
    """

    name: str
    moire: MoireSystem
    potential: mp.MoirePotential
    mass: float                     # m0
    d_nm: float                     # dipole length of Eq. 27
    eps_r: float
    eps_scan: tuple
    source_eps_r: str
    source_dipole_length: str
    theta_deg: float
    twist_scan: tuple               # deg
    include_mismatch: bool
    n_radial: int
    lifetime_n_radial: int
    convergence_tol: float          # meV
    window: int
    fillings: tuple
    temperatures: tuple             # K
    pl_min: float                   # hbar omega0 above -U0
    pl_max: float
    pl_points: int
    linewidth: float                # meV, Lorentzian half width
    dipole_scales: tuple

    def trap_at(self, theta_deg):
        """(MoireGeometry, HarmonicTrap) of the system at ``theta_deg``."""
        return bx.trap_at(self.moire.a_electron_nm, self.moire.a_hole_nm, self.potential, self.mass, theta_deg,
                       self.include_mismatch)


def _material(cfg):
    """The :class:`~hpcx.materials.moire.TrappedExcitonSystem` of ``biexciton.system``."""
    try:
        return trapped_exciton_system(cfg.biexciton.system)
    except UnknownMaterialError as exc:
        raise ConfigError(cfg.source, "biexciton.system", str(exc)) from None


def _check_lists(cfg):
    b = cfg.biexciton
    bad = [f for f in b.fillings if not f < 2.0]
    if bad:
        raise ConfigError(cfg.source, "biexciton.fillings", f"{bad[0]!r} is not allowed: a trap holds at most "
                          "two excitons in this model (seed 003: I = I^(1) + I^(2)), so 0 < filling < 2")
    for key, values in (("biexciton.twist_scan", b.twist_scan), ("biexciton.fillings", b.fillings),
                        ("biexciton.temperatures", b.temperatures), ("biexciton.epsilon_scan", b.epsilon_scan),
                        ("biexciton.dipole_scales", b.dipole_scales)):
        if len(set(values)) != len(values):
            raise ConfigError(cfg.source, key, "values must be distinct")
    if not b.pl_min < b.pl_max:
        raise ConfigError(cfg.source, "biexciton.pl_max", f"{b.pl_max!r} must exceed pl_min = {b.pl_min!r}")


def params(cfg, comm_size=1):
    """Typed parameters of a validated ``biexciton`` config; raises ConfigError."""
    b = cfg.biexciton
    system = _material(cfg)
    _check_lists(cfg)
    moire = system.moire
    eps_r = system.eps_r if b.epsilon is None else b.epsilon
    return Params(
        name=b.system, moire=moire, potential=mp.MoirePotential.from_ab(moire.A_meV, moire.B_meV),
        mass=moire.exciton_mass,
        d_nm=system.dipole_length_nm if b.dipole_length is None else b.dipole_length,
        eps_r=eps_r, eps_scan=tuple(b.epsilon_scan) or (eps_r,),
        source_eps_r=system.sources["eps_r"], source_dipole_length=system.sources["heterostructure"],
        theta_deg=b.twist_deg, twist_scan=tuple(b.twist_scan), include_mismatch=b.include_mismatch,
        n_radial=b.n_radial, lifetime_n_radial=b.lifetime_n_radial, convergence_tol=b.convergence_tol,
        window=b.window, fillings=tuple(b.fillings), temperatures=tuple(b.temperatures), pl_min=b.pl_min,
        pl_max=b.pl_max, pl_points=b.pl_points, linewidth=b.linewidth, dipole_scales=tuple(b.dipole_scales))
