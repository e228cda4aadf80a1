"""Peak memory of a ``wannier`` run per rank, from its parameters (before any allocation).

Counted in float64 arrays (8 bytes), beyond what the process already holds:

- solving one (species, |m|) problem in a basis of n Gaussians: the overlap,
  kinetic, potential and Hamiltonian matrices with their temporaries and
  the eigen-decompositions, :data:`SOLVE_MATRICES` x n^2 (problems are
  solved one after the other);
- the observables of one species: phi(r) and phi(k) need an [n_points, n]
  exponential and its argument per state, the 1s form factor (if 1s is solved) a
  [q chunk, n, n] kernel with its temporaries (:data:`FORM_FACTOR_ARRAYS`
  of them), the q grid being cut into chunks of at most
  :data:`FORM_FACTOR_CHUNK_BYTES` per array;
- the results: phi(r), phi(k) per state and species, the q-grid arrays.
"""

from __future__ import annotations

import os

from ...physics.wannier import FORM_FACTOR_BLOCK_BYTES

FLOAT = 8
SOLVE_MATRICES = 10              # n x n float64 arrays alive at the peak of one eigenproblem
FORM_FACTOR_ARRAYS = 3           # [q chunk, n, n] arrays alive at the peak of the form factor
FORM_FACTOR_CHUNK_BYTES = FORM_FACTOR_BLOCK_BYTES   # the library's own block: one kernel per chunk
REFERENCE_KERNEL_ARRAYS = 4      # NumPy twin of `keldysh`: [n, n, n_quad] arrays (HPCX_KERNELS=reference)
QUADRATURE_NODES = 400           # upper end of the q quadrature of hpcx.physics.wannier (about 330)

MEMORY_KEYS = ("wannier.basis_size", "wannier.n_q", "wannier.n_r", "wannier.n_k")


def form_factor_chunk(n_basis):
    """q points per chunk of the form factor, so that one [chunk, n, n] array stays under the budget."""
    return max(1, FORM_FACTOR_CHUNK_BYTES // (FLOAT * n_basis * n_basis))


def estimate_memory(params, comm_size=1):
    """Peak bytes per rank a ``wannier`` run adds to the process (``params``: :class:`.schema.Params`)."""
    n = params.basis.n
    n_states = len(params.states)
    solve = SOLVE_MATRICES * n * n
    if os.environ.get("HPCX_KERNELS") == "reference":
        solve += REFERENCE_KERNEL_ARRAYS * n * n * QUADRATURE_NODES
    chunk = min(params.q.n, form_factor_chunk(n)) if "1s" in params.states else 0
    wavefunctions = 2 * max(params.r.n, params.k.n) * n
    observables = max(FORM_FACTOR_ARRAYS * chunk * n * n, wavefunctions) + 2 * n * n
    results = len(params.species) * (n_states * (params.r.n + params.k.n) + 3 * params.q.n)
    return int(FLOAT * (max(solve, observables) + results))
