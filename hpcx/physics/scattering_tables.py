"""Self-consistent scattering tables over MPI ranks: rows, RTA, CSR sampling tables.

The states' rows are block-distributed (``block_range``): every rank holds the
couplings of its initial states (:class:`hpcx.physics.scattering.Terms`), the
self-consistent dephasing of SI Eq. 24 allgathers Gamma once per iteration, and
the rate rows are computed locally.  The tables are bit-identical on any number
of ranks (rows summed in a fixed order, row blocks aligned to global indices).
Units: meV, ps, K.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from hpcx.errors import ConvergenceError, HpcxError
from hpcx.parallel import allgather_blocks, allgather_concat

from . import scattering as sc
from .mc_table import SHARED_FIELDS, McTable

__all__ = ["TableSettings", "LocalTable", "CsrRows", "local_table", "rta_of_rows", "csr_rows", "mc_table"]


@dataclasses.dataclass(frozen=True)
class TableSettings:
    """How a table is built: generalised-normal shape ``beta``, broadening floor ``width`` (HWHM, meV),
    self-consistency ``tol``/``max_iter``/``mixing``, ``detailed_balance`` symmetrisation, and the
    sampling ``threshold`` (entries below threshold x row total are dropped); ``hint`` is added to the
    error when the self-consistency does not converge (what the caller can change)."""

    beta: float
    width: float
    tol: float
    max_iter: int
    mixing: float
    detailed_balance: bool
    threshold: float
    hint: str = ""


@dataclasses.dataclass
class LocalTable:
    """Rates W [n_loc, n] (1/ps) of this rank's rows at temperature T (K), the self-consistent
    dephasing gamma [n] (meV), its iterations and final residual."""

    T: float
    W: np.ndarray
    gamma: np.ndarray
    iterations: int
    residual: float


def local_table(E, terms, T, settings, comm, progress=None, resume=None, after=None):
    """:class:`LocalTable` of the rows of ``terms`` at T: self-consistent Gamma, then the rates,
    symmetrised when ``settings.detailed_balance``.  Collective.  ``resume`` and ``after``: a
    self-consistency continued from a saved iterate, and the hook that can save one (see
    :func:`hpcx.physics.scattering.self_consistent_gamma`).

    A floating-point overflow or invalid operation (a temperature outside the tables'
    validity) raises :class:`hpcx.errors.HpcxError` instead of returning NaN rates.
    """
    s = settings
    try:
        with np.errstate(over="raise", invalid="raise"):
            gamma, it, res = sc.self_consistent_gamma(E, terms, T, s.beta, s.width, s.tol, s.max_iter, s.mixing,
                                                      comm, progress=progress, resume=resume, after=after)
            W, Wb = sc.rates(E, terms, T, gamma, s.beta, s.width, reverse=True)
            if s.detailed_balance:
                W = sc.detailed_balance(W, Wb, E, terms.start, T)
    except FloatingPointError as exc:
        raise HpcxError(f"scattering tables at T = {T:g} K: floating-point {exc}; the rates are not "
                        f"representable at this temperature") from None
    except ConvergenceError as exc:
        error = ConvergenceError(f"scattering tables at T = {T:g} K: {exc}{'; ' + s.hint if s.hint else ''}")
        error.collective = exc.collective
        raise error from None
    return LocalTable(T, W, gamma, it, res)


def rta_of_rows(E, v, weight, W, T, comm):
    """RTA (D cm^2/s, v2_eff nm^2/ps^2, tau_eff ps) of a Boltzmann distribution at T, tau = 1/sum_f W_if
    of the rows ``W`` [n_loc, n] of every rank.  Collective."""
    tau = 1.0 / allgather_concat(W.sum(axis=1), comm)
    return sc.rta_curve(E, v, tau, T, weight)


@dataclasses.dataclass
class CsrRows:
    """Sampling tables of this rank's rows (``local``: :func:`hpcx.physics.scattering.sampling_table`
    of the local rows) with the global row pointer ``indptr`` [n + 1], the number of entries
    ``nnz`` and this rank's first entry ``offset``."""

    local: dict
    indptr: np.ndarray
    nnz: int
    offset: int

    def gather(self, comm):
        """(total_rate [n], indices [nnz], cumulative [nnz], dropped [n]) of all rows on every rank."""
        t = self.local
        return (allgather_concat(t["total_rate"], comm), allgather_concat(t["indices"], comm),
                allgather_concat(t["cumulative"], comm), allgather_concat(t["dropped"], comm))


def csr_rows(W, threshold, comm):
    """:class:`CsrRows` of the local rate rows W [n_loc, n] (1/ps).  Collective."""
    tab = sc.sampling_table(W, threshold)
    counts = allgather_blocks([int(tab["counts"].sum())], comm)
    indptr = np.concatenate([[0], np.cumsum(allgather_concat(tab["counts"], comm))]).astype(np.int64)
    return CsrRows(tab, indptr, int(sum(counts)), int(sum(counts[:comm.rank])))


def mc_table(states, W, threshold, comm, arena=None):
    """The Monte Carlo :class:`~hpcx.physics.mc_table.McTable` of ``states``
    (:class:`hpcx.physics.scattering_states.States`) with rate rows ``W`` on every rank.  Collective.

    With ``arena`` (:class:`hpcx.parallel.SharedArrays` of ``comm``) the table is held once per
    node: the rows are gathered straight into the node-shared arrays (no rank holds a private
    copy of the whole table) and the per-state arrays are copied there."""
    rows = csr_rows(W, threshold, comm)
    if arena is None:
        total, indices, cumulative, _ = rows.gather(comm)
        return McTable(states.energy, states.velocity, total, rows.indptr, indices, cumulative, states.group,
                       states.group_names, states.weight, states.k)
    t, dtype = rows.local, SHARED_FIELDS
    entries = {name: arena.concat(t[name], dtype[name]) for name in ("total_rate", "indices", "cumulative")}
    per_state = {name: arena.copy(getattr(states, name), dtype[name]) for name in ("energy", "velocity", "group",
                                                                                    "weight", "k")}
    return McTable(indptr=arena.copy(rows.indptr, np.int64), group_names=states.group_names, **entries, **per_state)
