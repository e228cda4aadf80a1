"""Peak memory per rank of a ``moire`` run, from its parameters (before any allocation)."""

from __future__ import annotations

from ...parallel import block_range
from ...physics import moire as mp
from .schema import SCAN_PATH_POINTS


def _local(n, comm_size):
    """Largest block of ``n`` items on one rank (rank 0's)."""
    start, stop = block_range(n, comm_size, 0)
    return stop - start


def estimate_memory(p, comm_size=1):
    """Peak bytes per rank: the largest phase plus what the result keeps until it is written.

    Kept: grid energies (every rank), this rank's velocities and eigenvectors
    [n_Q/p, n_bands, n_g], path bands and the potential map.  Phases: the
    grid solve (batches of n_g x n_g matrices, the gauge fix's copies), the
    DOS temporaries, one twist-scan angle, the map.  Writing gathers the
    distributed eigenvectors on rank 0 when h5py has no MPI (twice: the
    pickled parts and the arrays).
    """
    n_q, n_g, nb = p.grid * p.grid, p.n_g, p.n_bands
    n_path = len(p.geometry.path(p.path_points)[0])
    local_q = _local(n_q, comm_size)
    vectors = 16 * local_q * nb * n_g if p.write_vectors else 0
    kept = 8 * n_q * nb + 16 * local_q * nb + vectors + 24 * n_path * nb \
        + 8 * p.map_points * (p.map_points + 2)
    phases = max(mp.solve_memory_bytes(local_q, n_g, nb),
                 mp.solve_memory_bytes(_local(n_path, comm_size), n_g, nb),
                 mp.dos_memory_bytes(n_q * nb, p.dos_points),
                 mp.solve_memory_bytes(p.scan_grid**2 + SCAN_PATH_POINTS, n_g, 2) if p.twist_scan else 0,
                 mp.potential_map_memory_bytes(p.map_points))
    hamiltonian = 16 * n_g * n_g * 3
    write = 2 * 16 * n_q * nb * n_g if (comm_size > 1 and p.write_vectors) else 0
    return int(hamiltonian + kept + max(phases, write))
