"""Config schema of the ``scattering`` workflow and its translation into typed parameters."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ...config import Schema, Section
from ...physics import scattering_states as ss
from ...physics.scattering_tables import TableSettings
from .. import _shared

SCATTERING = Section("scattering", _shared.fields(),
                     doc="Exciton-phonon scattering tensor, sampling tables and RTA diffusion.", required=True)

SCHEMA = Schema("scattering", (SCATTERING,),
                doc="Exciton-phonon scattering tensors for moiré (seed 000 SI Eqs. 10-11, 23-24) and "
                    "multi-valley (seed 002) excitons; Monte Carlo tables; RTA diffusion D(T).")


@dataclasses.dataclass(frozen=True)
class Params:
    """Everything a ``scattering`` run needs, resolved and checked.

    ``model``: :class:`~hpcx.physics.scattering_states.MoireModel` or ``MultivalleyModel``;
    ``bands_input``: a ``moire`` run file whose bands are used (moiré model), else None and
    the bands are solved at ``twist_deg``; ``temperatures`` (K, sorted, unique) of the RTA
    curve; ``table_temperature`` (K) of the sampling tables; ``settings`` of every table
    (with the broadening floor actually used); ``width_min`` (meV) as configured.
    """

    model: object
    bands_input: Path | None
    twist_deg: float
    temperatures: tuple
    table_temperature: float
    settings: TableSettings
    width_min: float


def _span(cfg, model):
    """(energy span bound of the states in meV, how it was obtained)."""
    if isinstance(model, ss.MoireModel) and cfg.scattering.input:
        path, *_, span = _shared.bands_input(cfg)
        return span, f"bands of {path}"
    what = "exact, parabolic valleys" if isinstance(model, ss.MultivalleyModel) else \
        "bound of the free-exciton bands plus the moiré potential's range"
    return ss.energy_span_bound(model, cfg.scattering.twist_deg), what


def params(cfg, comm_size=1):
    """Typed parameters of a validated ``scattering`` config; raises ConfigError."""
    s = cfg.scattering
    model = _shared.states_model(cfg)
    bands_input = _shared.bands_input(cfg)[0] if s.model == "moire" else None
    temps = tuple(sorted(set(float(t) for t in s.temperatures)))
    span, what = _span(cfg, model)
    _shared.check_temperatures(cfg.source, "scattering.temperatures", temps, span, what)
    _shared.check_temperatures(cfg.source, "scattering.table_temperature", (s.table_temperature,), span, what)
    return Params(model=model, bands_input=bands_input, twist_deg=s.twist_deg, temperatures=temps,
                  table_temperature=s.table_temperature, settings=_shared.table_settings(cfg, model),
                  width_min=s.width_min)
