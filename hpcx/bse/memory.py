"""Memory estimates of the BSE operators per rank, and a refusal when they cannot fit.

Sizes (bytes, complex128 = 16 B) for N = n_k n_v n_c transitions, n_orb
orbitals, p ranks and a Krylov basis of ``ncv`` vectors:

- dense (hpcx.bse.hamiltonian + solver): the row slab N^2/p, plus the
  eigensolver basis ncv N/p;
- matrix-free (hpcx.bse.matfree): the vector slab and basis (ncv + 4) N/p,
  the band coefficients of the rank's k-points (n_k/p) n_orb (n_v + n_c), the
  orbital-pair block of the k-convolution n_k n_orb^2/p (times 3: the block,
  its send/receive buffer and the real-space potential of the pairs), and the
  per-k transposition buffers (n_k/p) n_orb^2 (times 2).

No term is N^2: the matrix-free memory is O(N + n_k n_orb^2) / p per rank.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import InputError

C16 = 16


@dataclass(frozen=True)
class Estimate:
    """Bytes per rank of each operator and the limit they are compared with."""

    N: int
    ranks: int
    dense: float
    matfree: float
    limit: float
    limit_source: str

    def lines(self):
        g = 2.0 ** 30
        return [f"BSE dimension N = {self.N} on {self.ranks} rank(s)",
                f"  dense operator:       {self.dense / g:10.3f} GiB per rank",
                f"  matrix-free operator: {self.matfree / g:10.3f} GiB per rank",
                f"  limit:                {self.limit / g:10.3f} GiB per rank ({self.limit_source})"]


def dense_bytes(N, ranks, ncv=64):
    return C16 * (N * N / ranks + min(ncv, N) * N / ranks)


def matfree_bytes(n_k, n_orb, n_v, n_c, ranks, ncv=64):
    N = n_k * n_v * n_c
    k_local = -(-n_k // ranks)
    vectors = C16 * (min(ncv, N) + 4) * N / ranks
    coeff = C16 * k_local * n_orb * (n_v + n_c)
    pair_block = 3 * C16 * n_k * n_orb * n_orb / ranks
    transpose = 2 * C16 * k_local * n_orb * n_orb
    return vectors + coeff + pair_block + transpose


def physical_memory_bytes():
    """Physical memory of this node (os.sysconf), or None where unavailable."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - platform dependent
        return None


def estimate(n_k, n_orb, n_v, n_c, ranks, ncv=64, limit_gib=None, ranks_per_node=None, fraction=0.8):
    """:class:`Estimate` for the given sizes.

    limit_gib: explicit per-rank limit (config); else ``fraction`` of the node's
    physical memory divided by ``ranks_per_node`` (default: all ranks on one node).
    """
    N = n_k * n_v * n_c
    if limit_gib is not None:
        limit, source = float(limit_gib) * 2.0 ** 30, "config memory_limit_gib"
    else:
        phys = physical_memory_bytes()
        per_node = ranks_per_node or ranks
        if phys is None:
            limit, source = float("inf"), "unknown physical memory"
        else:
            limit = fraction * phys / per_node
            source = f"{fraction:.0%} of {phys / 2 ** 30:.1f} GiB physical / {per_node} rank(s) per node"
    return Estimate(N, ranks, dense_bytes(N, ranks, ncv), matfree_bytes(n_k, n_orb, n_v, n_c, ranks, ncv),
                    limit, source)


def require_fit(est, operator, setting):
    """Raise InputError naming ``setting`` when ``operator`` ('dense'/'matfree') exceeds the limit."""
    need = est.dense if operator == "dense" else est.matfree
    if need > est.limit:
        g = 2.0 ** 30
        other = "matfree" if operator == "dense" else "dense"
        other_need = est.matfree if operator == "dense" else est.dense
        raise InputError(f"{setting} = {operator!r}: the BSE operator (N = {est.N}) needs "
                         f"{need / g:.2f} GiB per rank but the limit is {est.limit / g:.2f} GiB per rank "
                         f"({est.limit_source}); the {other} operator would need {other_need / g:.2f} GiB; "
                         f"use more ranks, a smaller k-grid or band window, or {setting} = {other!r}")
    return need
