"""Distributed cyclic convolution over a 2D k-grid for many orbital pairs (the direct term of
:mod:`hpcx.bse.matfree`).

For every orbital pair u: Q_u(k) = sum_k' W_u(k - k') P_u(k') / n_k = fft2(V_u * ifft2(P_u)) (numpy's
conventions), V_u the pair's real-space potential on the Born-von Karman lattice (real, eV).

Layouts (p ranks, grid n1 x n2, k = i1 n2 + i2, n_pairs pairs):

- rows: rank r holds the grid rows [row0, row1) touched by its k-points
  ``block_range(n_k, p, r)`` as ``A[rows, n2, n_pairs]`` (the entries of other ranks' k-points
  in a shared boundary row are zero) and transforms along the second grid axis;
- columns: the n2 n_pairs columns c = i2 n_pairs + pair (second axis already transformed) are
  split in contiguous blocks ``block_range(n2 n_pairs, p, r)``; rank r holds ``B[n1, its
  columns]`` and transforms along the first axis and multiplies by V.  Every rank gets an equal
  share of the FFT work for any number of pairs and any grid.

A row shared by two ranks is transformed by both with the other rank's entries zero; the columns
owner sums the contributions (the transform is linear) and returns the whole row to both.

Communication per convolution: the forward (rows -> columns) and return (columns -> rows)
all-to-all exchanges of ~n_k n_pairs / p numbers per rank, each in ``chunks`` pieces
(:func:`hpcx.parallel.ialltoallv`): piece c of the forward exchange travels while the rows of piece
c + 1 are transformed, piece c of the return while the columns of piece c + 1 are; MPI is let
progress (``Pending.test``) between pieces.  With one rank there is no exchange and no copy:
``B`` is ``A`` itself.  Buffers (allocated once): A, B, a send and a receive buffer, each
~n_k n_pairs / p numbers of ``dtype`` (complex128, or complex64 for single-precision transforms).
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft

from ..parallel import block_range, ialltoallv


def touched_rows(k0, k1, n2):
    """[row0, row1) of the grid rows holding the k-points [k0, k1) (k = i1 n2 + i2); empty if k1 == k0."""
    if k1 <= k0:
        return k0 // n2, k0 // n2
    return k0 // n2, (k1 - 1) // n2 + 1


def _offsets(counts):
    return np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)


def _inplace(fn, a, axis):
    """fn(a, axis) written into ``a`` (scipy works in place on contiguous arrays; copy otherwise)."""
    if a.size == 0:
        return a
    out = fn(a, axis=axis, overwrite_x=True)
    if not np.shares_memory(out, a):
        a[...] = out
    return a


class KConvolution:
    """The convolution of the module docstring for this rank (collective methods).

    grid (n1, n2); n_pairs; k_range [k0, k1) of this rank (``block_range(n_k, p, rank)``); comm;
    dtype of the transforms (complex128 or complex64); chunks: pieces of each exchange (the same on
    every rank; None: up to 4 when p > 1, 1 for one rank).
    """

    def __init__(self, grid, n_pairs, k_range, comm, dtype=np.complex128, chunks=None):
        self.n1, self.n2 = int(grid[0]), int(grid[1])
        self.n_pairs, self.comm = int(n_pairs), comm
        p, me = comm.size, comm.rank
        n_k, n_col = self.n1 * self.n2, self.n2 * self.n_pairs
        ks = [block_range(n_k, p, r) for r in range(p)]
        if tuple(k_range) != ks[me]:
            raise ValueError(f"rank {me}: k-range {tuple(k_range)} is not the block {ks[me]}")
        self.k_start, self.k_stop = ks[me]
        self.chunks = 1 if p == 1 else int(chunks) if chunks else default_chunks(n_k * self.n_pairs * 16 / p, self.n1)
        self._rows = [touched_rows(k0, k1, self.n2) for k0, k1 in ks]
        self._cols = [block_range(n_col, p, r) for r in range(p)]
        # piece c of rank s: rows (global) and columns (global)
        self._row_piece = [[_shifted(block_range(r1 - r0, self.chunks, c), r0) for c in range(self.chunks)]
                           for r0, r1 in self._rows]
        self._col_piece = [[_shifted(block_range(c1 - c0, self.chunks, c), c0) for c in range(self.chunks)]
                           for c0, c1 in self._cols]
        self.row0, self.row1 = self._rows[me]
        self.col0, self.col1 = self._cols[me]
        count = np.zeros(self.n1 + 1, int)
        for r0, r1 in self._rows:
            count[r0:r1] += 1
        self._shared = np.flatnonzero(count[:self.n1] > 1)       # boundary rows touched by two ranks
        if p > 1:
            self._plan()
        self._V = None
        self.dtype = np.dtype(dtype)

    def _plan(self):
        """Counts and displacements (elements) of every piece of both exchanges, computed once."""
        p, me = self.comm.size, self.comm.rank
        width, n_me = self.col1 - self.col0, self.row1 - self.row0
        self._fwd, self._ret = [], []
        s_off = r_off = 0
        for c in range(self.chunks):
            a, b = self._row_piece[me][c]
            counts = np.array([(b - a) * (c1 - c0) for c0, c1 in self._cols], np.int64)
            rows = [self._row_piece[s][c] for s in range(p)]
            rcounts = np.array([(r1 - r0) * width for r0, r1 in rows], np.int64)
            counts[me] = rcounts[me] = 0                # this rank's own part is copied, not sent
            self._fwd.append((a - self.row0, b - self.row0, counts, s_off + _offsets(counts), rcounts,
                              r_off + _offsets(rcounts), rows))
            s_off += counts.sum()
            r_off += rcounts.sum()
        r_off = 0
        for c in range(self.chunks):
            w = self._col_piece[me][c][1] - self._col_piece[me][c][0]
            counts = np.array([(r1 - r0) * w for r0, r1 in self._rows], np.int64)
            displs = np.array([r0 * w for r0, _ in self._rows], np.int64)
            cols = [self._col_piece[s][c] for s in range(p)]
            rcounts = np.array([n_me * (b - a) for a, b in cols], np.int64)
            counts[me] = rcounts[me] = 0
            self._ret.append((counts, displs, rcounts, r_off + _offsets(rcounts), cols))
            r_off += rcounts.sum()

    # --- buffers and the potential -----------------------------------------------------------
    @property
    def dtype(self):
        return self._dtype

    @dtype.setter
    def dtype(self, dtype):
        """(Re)allocate the buffers for transforms in ``dtype`` (complex128 or complex64)."""
        dtype = np.dtype(dtype)
        if dtype not in (np.dtype(np.complex128), np.dtype(np.complex64)):
            raise ValueError(f"transforms in complex128 or complex64, not {dtype}")
        self._dtype = dtype
        n_col = self.n2 * self.n_pairs
        self.A = np.zeros((self.row1 - self.row0, self.n2, self.n_pairs), dtype)
        if self.comm.size == 1:
            self.B = [self.A.reshape(self.n1, n_col)]
            self._send = self._recv = None
        else:
            me = self.comm.rank
            self.B = [np.empty((self.n1, b - a), dtype) for a, b in self._col_piece[me]]
            n_fwd = sum(r1 - r0 for r0, r1 in self._rows) * (self.col1 - self.col0)
            self._send = np.empty((self.row1 - self.row0) * n_col, dtype)
            self._recv = np.empty(max(n_fwd, self._send.size), dtype)
            self._acc = np.zeros((len(self._shared), self.col1 - self.col0), dtype)
        if self._V is not None:
            self.set_potential(self._V_full)

    def set_potential(self, V):
        """V [n1, col1 - col0] real eV: the potential of this rank's columns (kept in the transform
        precision, split like B)."""
        V = np.asarray(V, dtype=float)
        if V.shape != (self.n1, self.col1 - self.col0):
            raise ValueError(f"potential of shape {V.shape}, expected {(self.n1, self.col1 - self.col0)}")
        self._V_full = V
        pieces = self._col_piece[self.comm.rank] if self.comm.size > 1 else [(self.col0, self.col1)]
        # double: views of V (no copy); single: float32 copies
        single = self.dtype == np.complex64
        self._V = [V[:, a - self.col0:b - self.col0].astype(np.float32) if single else V[:, a - self.col0:b - self.col0]
                   for a, b in pieces]

    def k_block(self):
        """The [k1 - k0, n_pairs] view of A holding this rank's k-points (k order)."""
        off = self.k_start - self.row0 * self.n2
        return self.A.reshape(-1, self.n_pairs)[off:off + self.k_stop - self.k_start]

    def clear_padding(self):
        """Zero the entries of A outside this rank's k-points (other ranks' part of shared rows)."""
        flat = self.A.reshape(-1, self.n_pairs)
        off = self.k_start - self.row0 * self.n2
        flat[:off] = 0
        flat[off + self.k_stop - self.k_start:] = 0

    # --- the transforms ------------------------------------------------------------------------
    def convolve(self):
        """A (this rank's P, padding zero) -> A = Q (every touched row; :meth:`k_block` is this
        rank's part).  Collective."""
        self._forward()
        pending = []
        for c, B in enumerate(self.B):
            _inplace(sfft.ifft, B, 0)
            B *= self._V[c]
            _inplace(sfft.fft, B, 0)
            pending.append(self._post_return(c))
            for q in pending:
                q.test()
        self._finish_return(pending)
        return self.k_block()

    def to_real_space(self):
        """p = ifft2(P) of this rank's columns: [n1, col1 - col0] (a copy).  Collective."""
        self._forward()
        for B in self.B:
            _inplace(sfft.ifft, B, 0)
        return np.concatenate(self.B, axis=1) if len(self.B) > 1 else self.B[0].copy()

    def from_real_space(self, p):
        """fft2 of the real-space columns p [n1, col1 - col0] into A; returns :meth:`k_block`.
        Collective."""
        c0 = self.col0
        pieces = self._col_piece[self.comm.rank] if self.comm.size > 1 else [(c0, self.col1)]
        pending = []
        for c, (a, b) in enumerate(pieces):
            self.B[c][...] = p[:, a - c0:b - c0]
            _inplace(sfft.fft, self.B[c], 0)
            pending.append(self._post_return(c))
        self._finish_return(pending)
        return self.k_block()

    # --- the exchanges ---------------------------------------------------------------------------
    def _forward(self):
        """Rows: inverse transform along i2 piece by piece, each piece sent to the column owners
        while the next is transformed; columns: the pieces summed into B."""
        if self.comm.size == 1:
            _inplace(sfft.ifft, self.A, 1)
            return
        A2 = self.A.reshape(-1, self.n2 * self.n_pairs)
        pending = []
        for a, b, counts, sdispl, rcounts, rdispl, _ in self._fwd:
            _inplace(sfft.ifft, self.A[a:b], 1)
            for (c0, c1), n, d in zip(self._cols, counts, sdispl):
                if n:
                    self._send[d:d + n].reshape(b - a, c1 - c0)[...] = A2[a:b, c0:c1]
            pending.append(ialltoallv(self._send, counts, sdispl, self._recv, rcounts, rdispl, self.comm))
            for q in pending:
                q.test()
        self._acc[...] = 0
        width, me = self.col1 - self.col0, self.comm.rank
        for a, b, _, _, _, _, rows in self._fwd:                # own rows while the others travel
            self._unpack_rows(A2[a:b, self.col0:self.col1], *rows[me])
        for q, (_, _, _, _, rcounts, rdispl, rows) in zip(pending, self._fwd):
            q.wait()
            for s, ((r0, r1), n, d) in enumerate(zip(rows, rcounts, rdispl)):
                if s != me:
                    self._unpack_rows(self._recv[d:d + n].reshape(r1 - r0, width), r0, r1)
        for i, g in enumerate(self._shared):
            self._scatter_row(self._acc[i], g)

    def _unpack_rows(self, block, r0, r1):
        """Rows [r0, r1) of this rank's columns into the pieces of B (shared rows summed in _acc)."""
        c0 = self.col0
        for c, (a, b) in enumerate(self._col_piece[self.comm.rank]):
            self.B[c][r0:r1] = block[:, a - c0:b - c0]
        lo, hi = np.searchsorted(self._shared, [r0, r1])
        for i in range(lo, hi):
            self._acc[i] += block[self._shared[i] - r0]

    def _scatter_row(self, row, g):
        c0 = self.col0
        for c, (a, b) in enumerate(self._col_piece[self.comm.rank]):
            self.B[c][g] = row[a - c0:b - c0]

    def _post_return(self, c):
        """Send the rows of every rank from column piece c (straight from B) and receive this rank's
        rows of every rank's piece c."""
        if self.comm.size == 1:
            return _Done()
        counts, displs, rcounts, rdispl, _ = self._ret[c]
        return ialltoallv(self.B[c].reshape(-1), counts, displs, self._recv, rcounts, rdispl, self.comm)

    def _finish_return(self, pending):
        """Wait for the return pieces, put them into A and transform along i2 (forward)."""
        if self.comm.size > 1:
            n_me, me = self.row1 - self.row0, self.comm.rank
            A2 = self.A.reshape(-1, self.n2 * self.n_pairs)
            for c, (a, b) in enumerate(self._col_piece[me]):      # own columns while the others travel
                A2[:, a:b] = self.B[c][self.row0:self.row1]
            for q, (_, _, rcounts, rdispl, cols) in zip(pending, self._ret):
                q.wait()
                for s, ((a, b), n, d) in enumerate(zip(cols, rcounts, rdispl)):
                    if s != me:
                        A2[:, a:b] = self._recv[d:d + n].reshape(n_me, b - a)
        _inplace(sfft.fft, self.A, 1)


class _Done:
    def test(self):
        return True

    def wait(self):
        return None


def default_chunks(bytes_per_rank, n1):
    """Pieces of each exchange: 1 below 2 MB per rank (the per-piece overhead would outweigh the
    overlap), 2 below 16 MB, else 4; never more than n1 (rows to split)."""
    return max(1, min(n1, 1 if bytes_per_rank < 2 ** 21 else 2 if bytes_per_rank < 2 ** 24 else 4))


def _shifted(rng, off):
    return rng[0] + off, rng[1] + off
