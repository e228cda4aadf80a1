"""Config keys two workflows share: the ``[scattering]`` table keys (``scattering``, ``transport``).

Not a workflow (the name starts with ``_``).  The fields are declared once here;
each workflow's schema picks the ones it accepts, and :func:`states_model` /
:func:`table_settings` turn a validated section into the library's typed
parameter objects (:mod:`hpcx.physics.scattering_states`,
:mod:`hpcx.physics.scattering_tables`), raising ConfigError for the key at fault.
"""

from __future__ import annotations

from .. import materials
from ..config import Field
from ..errors import ConfigError, InputError
from ..io.tables import moire_bands_meta
from ..materials import UnknownMaterialError
from ..materials.moire import moire_names, moire_system
from ..materials.phonons import multivalley_model, phonon_params
from ..physics import moire as mp
from ..physics import scattering_states as ss
from ..physics.scattering_tables import TableSettings

SCATTERING_FIELDS = (
    Field("model", str, "moire", "states: 'moire' = moiré interlayer exciton bands, 'multivalley' = "
          "parabolic KK, KK', K-Lambda valleys of a monolayer (seed 002)", choices=("moire", "multivalley")),
    Field("input", str, "", "a finished `moire` run file to take the bands from (empty: solve in-process); "
          "a relative path is taken from the config file's directory"),
    Field("system", str, "MoSe2-WSe2/hBN", "moiré system (hpcx/materials/moire.toml)"),
    Field("twist_deg", float, 3.0, "twist angle", unit="deg", minimum=0.0, exclusive=True, maximum=30.0),
    Field("shells", int, 6, "plane-wave shells of the moiré Hamiltonian", minimum=1, maximum=60),
    Field("n_bands", int, 3, "moiré bands kept as states", minimum=1),
    Field("grid", int, 9, "n of the n x n Monkhorst-Pack grid of the mini-BZ", minimum=2, maximum=60),
    Field("material", str, "WS2", "monolayer of the multi-valley model (valleys in hpcx/materials/phonons.toml)"),
    Field("environment", str, "hBN", "dielectric surrounding (both sides) for the form factors"),
    Field("k_max", float, 1.2, "multi-valley k-grid half width", unit="1/nm", minimum=0.0, exclusive=True),
    Field("k_points", int, 14, "n of the n x n k-grid per valley (multi-valley model)", minimum=2, maximum=80),
    Field("temperatures", float, (10.0, 30.0, 70.0, 150.0, 300.0), "temperatures of the RTA curve", unit="K",
          list_of=True, min_items=1, minimum=0.0, exclusive=True),
    Field("table_temperature", float, 70.0, "temperature of the Monte Carlo sampling tables", unit="K",
          minimum=0.0, exclusive=True),
    Field("beta", float, 2.0, "shape of the generalised normal broadening (2 = Gaussian)", minimum=0.5,
          maximum=10.0),
    Field("width_min", float, 0.2, "floor of the broadening HWHM (of the order of the grid's energy spacing); "
          "the multi-valley model raises it to half its grid's energy spacing at k_max/2",
          unit="meV", minimum=0.0, exclusive=True),
    Field("tol", float, 1e-5, "relative residual of the self-consistent dephasing", minimum=0.0, exclusive=True),
    Field("max_iter", int, 300, "iterations of the self-consistent dephasing", minimum=1),
    Field("mixing", float, 0.5, "damping of the self-consistent iteration", minimum=0.0, exclusive=True,
          maximum=1.0),
    Field("detailed_balance", bool, True, "symmetrise the table so that W_if/W_fi = exp(-(E_f-E_i)/kT) exactly"),
    Field("threshold", float, 1e-6, "sampling tables drop W_if below threshold x total rate of the row",
          minimum=0.0, maximum=1.0),
    Field("coupling_cut", float, 1e-3, "moiré terms below this fraction of the mode's largest coupling "
          "are dropped", minimum=0.0, maximum=1.0),
) + (
    Field("potential", str, "form_factor", "moiré potential of the interlayer exciton: 'form_factor' = the gap "
          "modulation split between the conduction and the valence band, each weighted by the 1s form factor "
          "(seed 000 SI Eq. 8; falls with the twist angle), 'point_particle' = the gap modulation A, B itself at "
          "every angle (seed 003 App. II)", choices=("form_factor", "point_particle")),
    Field("conduction_fraction", float, None, "share s of the gap modulation carried by the electron's "
          "conduction band (the hole's valence band carries 1 - s; default: "
          "hpcx/materials/moire_layer_potentials.toml, ASSUMED 0.5)", minimum=0.0, maximum=1.0),
    Field("A", float, None, "override of the point-particle cosine amplitude A of the gap modulation "
          "(default: hpcx/materials/moire.toml)", unit="meV"),
    Field("B", float, None, "override of the point-particle sine amplitude B of the gap modulation "
          "(default: hpcx/materials/moire.toml)", unit="meV"),
    Field("acoustic_scale", float, None, "factor on the acoustic deformation potentials of both layers "
          "(default: the system's CALIBRATED value, hpcx/materials/phonons.toml [calibration]; for "
          "sensitivity studies)", minimum=0.0, exclusive=True),
)

#: the moiré-potential and calibration keys (moiré model only; ignored when the bands come from ``input``,
#: except acoustic_scale)
POTENTIAL_KEYS = ("potential", "conduction_fraction", "A", "B")

#: keys of the sweep of ``transport`` (its own [transport] keys replace them there)
SWEPT = ("temperatures", "table_temperature", "twist_deg")


def fields(exclude=()):
    """The shared fields without the names in ``exclude``."""
    return tuple(f for f in SCATTERING_FIELDS if f.name not in exclude)


def _lookup(fn, name, source, key):
    try:
        return fn(name)
    except UnknownMaterialError as exc:
        raise ConfigError(source, key, str(exc)) from None


def bands_input(cfg, section="scattering"):
    """(resolved path or None, system name, twist deg, n_Q, n_bands, energy span meV) of ``[section] input``
    (a ``moire`` run file)."""
    s = getattr(cfg, section)
    if not s.input:
        return None, None, None, None, None, None
    path = cfg.path(s.input)
    try:
        return (path, *moire_bands_meta(path))
    except InputError as exc:
        raise ConfigError(cfg.source, f"{section}.input", str(exc)) from None


def states_model(cfg, section="scattering"):
    """The :class:`~hpcx.physics.scattering_states.MoireModel` or ``MultivalleyModel`` of a section."""
    s, src = getattr(cfg, section), cfg.source
    _lookup(materials.environment, s.environment, src, f"{section}.environment")
    if s.model == "multivalley":
        for fn in (multivalley_model, phonon_params, materials.tmd):
            _lookup(fn, s.material, src, f"{section}.material")
        return ss.multivalley_model(s.material, s.environment, s.k_max, s.k_points)
    name = bands_input(cfg, section)[1] or s.system
    if name not in moire_names():
        raise ConfigError(src, f"{section}.system", f"unknown moire system {name!r}; "
                          f"known: {', '.join(moire_names())}")
    if not s.input:
        n_g = len(mp.plane_wave_basis(mp.MoireGeometry(1.0, 1.0, 0.1), s.shells)[0])
        if s.n_bands > n_g:
            raise ConfigError(src, f"{section}.n_bands", f"more than the {n_g} plane waves of {s.shells} shells")
    system = moire_system(name)
    for layer in (system.electron_layer, system.hole_layer):
        _lookup(phonon_params, layer, src, f"{section}.system")
    if s.input:
        for key in POTENTIAL_KEYS:
            default = next(f.default for f in SCATTERING_FIELDS if f.name == key)
            if getattr(s, key) != default:
                raise ConfigError(src, f"{section}.{key}", f"not allowed with {section}.input: the bands "
                                  "(and their potential) come from the moire run file")
    return ss.moire_model(name, s.environment, s.shells, s.n_bands, s.grid, s.coupling_cut, s.potential,
                          s.conduction_fraction, s.A, s.B, s.acoustic_scale)


def table_settings(cfg, model, section="scattering"):
    """:class:`~hpcx.physics.scattering_tables.TableSettings` of a section (broadening floor of ``model``)."""
    s = getattr(cfg, section)
    return TableSettings(s.beta, ss.broadening_floor(model, s.width_min), s.tol, s.max_iter, s.mixing,
                         s.detailed_balance, s.threshold,
                         f"raise {section}.max_iter (now {s.max_iter}) or lower {section}.mixing (now {s.mixing:g})")


def check_temperatures(source, key, temperatures, span_meV, what):
    """ConfigError unless every temperature (K) is at least the tables' lowest valid one for states
    spanning ``span_meV`` (:func:`hpcx.physics.scattering_states.lowest_valid_temperature`)."""
    t_min = ss.lowest_valid_temperature(span_meV)
    low = [T for T in temperatures if T < t_min]
    if low:
        raise ConfigError(source, key, f"{low[0]:g} K is below the validity of the scattering tables: the "
                          f"states span up to {span_meV:.4g} meV ({what}), and upward rates "
                          f"exp(-dE/k_B T) with dE/k_B T > {ss.MAX_EXPONENT:g} underflow in double "
                          f"precision; allowed: T >= {t_min:.3g} K")
