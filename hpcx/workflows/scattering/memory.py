"""Peak memory per rank of a ``scattering`` run, from its parameters (hpcx.physics.scattering_memory)."""

from __future__ import annotations

import math

from ...io.tables import moire_bands_meta
from ...physics import scattering_memory as sm
from ...physics import scattering_states as ss


def estimate_memory(p, comm_size=1):
    """Bytes per rank at the peak (the tables at one temperature; rows block-distributed)."""
    n, n_g = ss.n_states(p.model), None
    if p.bands_input is not None:
        _, _, n_q, n_b, _ = moire_bands_meta(p.bands_input)
        n = n_q * n_b
    return int(sm.table_bytes(p.model, p.twist_deg, math.ceil(n / comm_size), n, n_g))
