"""1s exciton data of a finished ``wannier`` run file (docs/output.md, /results/excitons/<species>/)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import ConfigError
from ...io import RunFile
from ...physics.kinetics.setup import SpeciesInput

GROUP = "results/excitons"


def read_species(path: Path, names, source, key) -> tuple:
    """SpeciesInput for each name from the wannier run file ``path``; ConfigError naming ``key``."""
    if not Path(path).is_file():
        raise ConfigError(source, key, f"wannier run file {path} does not exist; give a finished `wannier` "
                          f"run file or leave the key empty to solve the Wannier equation in process")
    try:
        with RunFile(path) as run:
            if run.workflow != "wannier":
                raise ConfigError(source, key, f"{path} is a '{run.workflow}' run file; allowed: a `wannier` run")
            if not run.attrs.get("finished"):
                raise ConfigError(source, key, f"{path}: the run did not finish (attribute 'finished' is empty)")
            have = sorted(run.file[GROUP].keys())
            missing = [n for n in names if n not in have]
            if missing:
                raise ConfigError(source, key, f"{path} has no species {missing}; it has {have}")
            return tuple(_one(run, n) for n in names)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - an unreadable file is a user error here
        raise ConfigError(source, key, f"cannot read {path} as a wannier run file: {exc}") from None


def _one(run, name):
    g = f"{GROUP}/{name}"
    a = run.file[g].attrs
    states = [s.decode() if isinstance(s, bytes) else str(s) for s in run.read(f"{g}/states")[0]]
    if "1s" not in states:
        raise ValueError(f"species {name} has no 1s state")
    i = states.index("1s")
    read = lambda k: np.asarray(run.read(f"{g}/{k}")[0])  # noqa: E731
    return SpeciesInput(name, int(a["electron_layer"]), int(a["hole_layer"]), float(a["electron_mass_m0"]),
                        float(a["hole_mass_m0"]), 1e3 * float(read("band_gap")),
                        float(read("binding_energy")[i]), read("r"), read("phi_r")[i])
