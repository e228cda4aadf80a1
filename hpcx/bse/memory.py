"""Memory estimates of the BSE operators per rank, and a refusal when they cannot fit.

Sizes (bytes, complex128 = 16 B) for N = n_k n_v n_c transitions, n_orb
orbitals, p ranks and a Krylov basis of ``ncv`` vectors:

- dense (hpcx.bse.hamiltonian + solver): the row slab N^2/p, plus the
  eigensolver basis ncv N/p;
- matrix-free (hpcx.bse.matfree): the vector slab and basis (ncv + 4) N/p
  (block Davidson: ncv = twice the basis size plus one block, the basis and its
  products), the band coefficients of the rank's k-points (n_k/p) n_orb (n_v +
  n_c), and the k-convolution (hpcx.bse.kconv): its row and column buffers and,
  with more than one rank, a send and a receive buffer, n_k n_orb^2/p numbers
  each (complex128, or complex64 for single-precision transforms; the grid rows
  shared by two ranks add at most 2 n2 n_orb^2), plus the real-space potential
  of the rank's columns, n_k n_orb^2/p reals.

No term is N^2: the matrix-free memory is O(N + n_k n_orb^2) / p per rank.

Whole-run peaks (the workflows' ``estimate_memory``) add the other phases to the
operator, each from the sizes alone (bytes per rank, beyond what the process holds
when the estimate is checked, :mod:`hpcx.resources`): bands and coefficients, the interaction tables,
the spectrum's Gaussian matrices, the wavefunction arrays and, for a twisted cell
searched by angle, the candidate table of the commensurate-cell search
(:func:`cell_search_bytes`; it runs before the BSE and its memory is freed, so it
counts against the run's other phases as a maximum, not a sum).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError

C16 = 16
F8 = 8
MIB = 2 ** 20

#: peak RSS of a rank before any BSE data exists: Python with hpcx, NumPy, SciPy, h5py, mpi4py,
#: petsc4py and slepc4py imported and PETSc initialised (83 MiB measured for the imports alone,
#: 100-118 MiB for the smallest BSE runs)


#: bytes per (layer vector, other-layer vector) candidate of
#: hpcx.bse.modulation.commensurate_cells: the complex ratio, its modulus, the strain and the
#: mask (33 B measured with tracemalloc at 300-6000 sites)
CELL_SEARCH_PAIR_BYTES = 34


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


def matfree_bytes(n_k, n_orb, n_v, n_c, ranks, ncv=64, precision="double"):
    """Bytes per rank of the matrix-free operator and ``ncv`` + 4 vectors (module docstring);
    precision 'double' or 'single' (the FFT stage)."""
    N = n_k * n_v * n_c
    k_local = -(-n_k // ranks)
    vectors = C16 * (min(ncv, N) + 4) * N / ranks
    coeff = C16 * k_local * n_orb * (n_v + n_c)
    single = precision == "single"
    pairs = n_k * n_orb * n_orb / ranks
    buffers = (1 if ranks == 1 else 4) * (C16 // 2 if single else C16) * pairs
    potential = (F8 // 2 if single else F8) * pairs
    return vectors + coeff + buffers + potential


def estimate(n_k, n_orb, n_v, n_c, ranks, ncv=64, limit_gib=None, ranks_per_node=None, fraction=0.8):
    """:class:`Estimate` for the given sizes.

    limit_gib: explicit per-rank limit (config); else ``fraction`` of the node's
    physical memory divided by ``ranks_per_node`` (default: all ranks on one node).
    """
    N = n_k * n_v * n_c
    limit, source = physical_limit(ranks_per_node or ranks, limit_gib, fraction)
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


def cell_search_bytes(n_candidates):
    """Peak bytes of the commensurate-cell search over ``n_candidates`` (m, n) vector pairs
    (hpcx.bse.modulation.search_candidates)."""
    return float(CELL_SEARCH_PAIR_BYTES * n_candidates)


def spectrum_bytes(n_energy, n_transitions):
    """The Gaussian matrices of hpcx.bse.optics.conductivity: three float arrays of
    n_energy x min(n_transitions, 4096) (it works in chunks of 4096 transitions)."""
    return 3.0 * F8 * n_energy * min(n_transitions, 4096)


def kgrid_bytes(n_k, n_site):
    """The interaction tables on an n_k-point grid with n_site sites: the k - k' index table
    (int64 temporaries, then int32: 28 B per pair of k-points) and the minimum-image distance
    arrays and lattice sums (about 250 B per (k, site, site))."""
    return 28.0 * n_k * n_k + 250.0 * n_k * n_site * n_site


def bands_bytes(n_k, n_orb, n_k_local, n_band):
    """Band coefficients: [n_k_local, n_orb, n_band] complex, twice (phase fixing), plus the
    Bloch Hamiltonians and their eigenvectors of the local k-points ([n_k_local, n_orb, n_orb],
    four arrays) and the k-phases ([n_k, n_orb] floats)."""
    return 2.0 * C16 * n_k_local * n_orb * n_band + 4.0 * C16 * n_k_local * n_orb * n_orb + F8 * n_k * n_orb


def wavefunction_bytes(n_states, n_k, n_orb, n_site, N):
    """Hole-fixed and hole densities of n_states states: the gathered amplitudes [N, n_states]
    (three copies), the per-state electron amplitudes [n_states, n_k, n_orb] (three complex
    arrays) and the densities [n_states, n_k, n_site]."""
    return 3.0 * C16 * N * n_states + 3.0 * C16 * n_states * n_k * n_orb + 2.0 * F8 * n_states * n_k * n_site


def physical_limit(ranks, limit_gib=None, fraction=0.8):
    """(bytes per rank, description): ``limit_gib`` when given, else ``fraction`` of what
    :func:`hpcx.resources.memory_budget` allows a rank (MemAvailable, cgroup, SLURM, ulimit;
    ``ranks`` on one node) -- the same detection as the run's memory check."""
    if limit_gib is not None:
        return float(limit_gib) * 2.0 ** 30, "config memory_limit_gib"
    from ..resources import memory_budget
    budget = memory_budget(ranks)
    if budget.limit is None:
        return float("inf"), "no memory limit detected"
    return fraction * budget.limit, f"{fraction:.0%} of {budget.limit / 2 ** 30:.1f} GiB per rank ({budget.source})"


def dense_run_bytes(n_k, n_orb, n_site, n_v, n_c, n_eig, ranks, n_energy, n_wf, dense_solver=False):
    """Peak bytes per rank of a BSE run on the dense rows (the ``bse`` workflow): the runtime,
    bands on the grid (replicated), the interaction tables, the row slab and PETSc's copy of it
    (or, for the dense solver, the gathered matrix and its eigenvectors on every rank), the
    eigenvectors, the velocity matrices [n_k, 2 + 6, n_orb, n_orb], the spectra and densities."""
    N = n_k * n_v * n_c
    k_local = -(-n_k // ranks)
    rows = C16 * N * (-(-N // ranks))
    solver = 3.0 * C16 * N * N if dense_solver else rows + C16 * min(64, N) * N / ranks
    optics = 8.0 * C16 * n_k * n_orb * n_orb + 2 * spectrum_bytes(n_energy, N)
    return (C16 * n_k * n_orb * n_orb + bands_bytes(n_k, n_orb, k_local, n_orb)
            + kgrid_bytes(n_k, n_site) + rows + solver + C16 * N * n_site + optics
            + wavefunction_bytes(max(n_eig, n_wf), n_k, n_orb, n_site, N))


def moire_run_bytes(est, operator, n_k, n_orb, n_site, n_hop, n_v, n_c, n_eig, ranks, n_energy, n_wf,
                    search_candidates=0):
    """Peak bytes per rank of a supercell BSE run (the ``bse_moire`` workflow): the runtime plus
    the larger of the commensurate-cell search and the run itself, whose terms are the
    supercell's hoppings (about 120 B each), the bands of the local k-points (dense eigh below
    400 orbitals), the operator (``est``: an :class:`Estimate`), the gathered window of the dense
    operator, the spectrum's Gaussian matrices and, with ``n_wf`` wavefunctions, the gathered
    window, amplitudes and densities."""
    N = n_k * n_v * n_c
    k_local = -(-n_k // ranks)
    window = 2.0 * C16 * n_k * n_orb * (n_v + n_c)
    run = (120.0 * n_hop + bands_bytes(n_k, n_orb, k_local, n_v + n_c + 2) + (est.dense if operator == "dense"
           else est.matfree) + (window if operator == "dense" else 0.0) + spectrum_bytes(n_energy, -(-N // ranks))
           + C16 * N * n_eig / ranks)
    if n_wf:
        run += window + wavefunction_bytes(n_eig, n_k, n_orb, n_site, N)
    return max(cell_search_bytes(search_candidates), run)
