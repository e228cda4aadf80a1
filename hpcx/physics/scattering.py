"""Exciton-phonon scattering tensors for moiré and multi-valley excitons, sampling tables, RTA.

Physics only (no files, no configs), vectorised NumPy; the rate evaluation (the hot loop
of the self-consistent dephasing) runs in the kernel ``scattering_rates``
(kernels/scattering_rates.pyx, obtained with :func:`hpcx._kernels.load`; its NumPy twin
hpcx/_kernels/reference/scattering_rates.py is selected with ``HPCX_KERNELS=reference`` or
passed as ``kernel=``).  Units: meV, nm, ps, m0, K.
Conventions as in :mod:`hpcx.physics.phonons` and docs/theory/scattering.md.

States are flattened ``i = iQ * n_bands + eta``.  A moiré state is
``|eta Q> = sum_g omega_g^eta(Q) |Q + g>`` (free-exciton plane waves, hpcx.physics.moire).
A phonon of momentum q takes the free component Q + g' to Q + g' + q; with
``q = Q' - Q + g_u`` the final component is Q' + g' + g_u, so the moiré-basis element
(seed 000 SI Eq. 11, with the plane-wave index convention of hpcx.physics.moire) is
``Dt_X(q) O_u``, ``O_u(i, f) = sum_g' conj(omega_g'^eta(Q)) omega_{g'+g_u}^xi(Q')``.
Different umklapp vectors g_u are different phonons and add incoherently:
``A |D|^2 = sum_u g2A(|Q' - Q + g_u|) |O_u|^2``.  The final-state weight of a
Monkhorst-Pack point is ``1 / (N_Q A_cell)`` (= d^2k/(2 pi)^2 of the unfolded plane).

The exciton vertex of every mode is ``Dt_e F(beta q) - Dt_h F(alpha q)`` (SI Eq. 2,
no mass imbalance); for the interlayer exciton each mode belongs to one layer, so
one of Dt_e, Dt_h is 0 (no interference between the layers' phonons).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hpcx._kernels import load as _load_kernel
from hpcx.errors import ConvergenceError
from hpcx.parallel import allgather_concat, raised_on_every_rank
from hpcx.units import HBAR_MEV_PS as _HBAR
from hpcx.units import KB_MEV_PER_K as _KB

from . import phonons as ph

__all__ = ["Mode", "layer_modes", "Terms", "moire_terms", "channel_terms", "rates", "out_rates",
           "self_consistent_gamma", "detailed_balance", "sampling_table", "rta_curve"]


@dataclass(frozen=True)
class Mode:
    """One phonon branch coupling to the exciton.

    kind: "debye" (Omega = hbar v q, Dt = D q; ``param`` = v in nm/ps, D in meV) or
    "einstein" (Omega = ``param`` in meV, Dt = D in meV/nm).  D_e, D_h: electron and
    valence-band elements (0 for a carrier living in another layer); rho in m0/nm^2.
    """

    name: str
    kind: str
    param: float
    D_e: float
    D_h: float
    rho: float

    def omega(self, q):
        """Phonon energy (meV) at |q| (1/nm), shape of q."""
        if self.kind == "debye":
            return ph.debye_energy(q, self.param)
        return ph.einstein_energy(q, self.param)

    def g2A(self, q, form_factor, m_e, m_h):
        """A |g_X(q)|^2 (meV^2 nm^2) of the exciton at |q| (1/nm) (phonons.exciton_vertex, s = 0)."""
        q = np.asarray(q, dtype=float)
        return self.g2A_from(q, *form_factors(q, form_factor, m_e, m_h))

    def g2A_from(self, q, F_e, F_h):
        """:meth:`g2A` from the form factors F_e = F(beta q), F_h = F(alpha q) (:func:`form_factors`)."""
        scale = q if self.kind == "debye" else 1.0
        vert = 0.0
        if self.D_e:
            vert = self.D_e * scale * F_e
        if self.D_h:
            vert = vert - self.D_h * scale * F_h
        om = self.omega(q)
        return np.where(om > 0.0, ph.coupling_g2A(vert, self.rho, np.where(om > 0.0, om, 1.0)), 0.0)


def form_factors(q, form_factor, m_e, m_h):
    """(F(beta |q|), F(alpha |q|)) with beta = m_h/M, alpha = m_e/M: the electron and hole
    factors of the vertex Dt_e F(beta q) - Dt_h F(alpha q) (phonons.exciton_vertex, s = 0)."""
    M = m_e + m_h
    return form_factor(m_h / M * q), form_factor(m_e / M * q)


def layer_modes(params, carrier: str, tag: str = ""):
    """LA, TA (Debye) and Gamma-optical (Einstein) modes of one layer coupling to one carrier.

    params: :class:`hpcx.materials.phonons.PhononParams`; carrier "e", "h" or "eh" (both,
    an intralayer exciton).
    """
    e, h = "e" in carrier, "h" in carrier
    tag = tag or params.name
    return [Mode(f"{tag}:LA", "debye", params.v_LA, params.D1_LA_e * e, params.D1_LA_h * h, params.rho),
            Mode(f"{tag}:TA", "debye", params.v_TA, params.D1_TA_e * e, params.D1_TA_h * h, params.rho),
            Mode(f"{tag}:opt", "einstein", params.E_opt, params.D0_opt_e * e, params.D0_opt_h * h,
                 params.rho)]


@dataclass
class Terms:
    """Couplings of the local initial states ``rows [start, stop)`` to all n final states.

    dense: list of (omega, g2w) with g2w [n_loc, n] meV^2 (coupling x final weight) and
    omega broadcastable to it (meV); sparse: flat arrays row (local, int32), col (int32),
    g2w, omega for couplings whose phonon energy differs per term (Debye modes summed over
    umklapp).  indptr [n_loc + 1] (int64) is set when the sparse terms are sorted by row
    (CSR, as :func:`moire_terms` builds them; :meth:`csr` sorts otherwise).
    Every coupling is symmetric under i <-> f, so the reverse rates follow from it.
    """

    start: int
    stop: int
    n: int
    dense: list = field(default_factory=list)
    row: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    col: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    g2w: np.ndarray = field(default_factory=lambda: np.zeros(0))
    omega: np.ndarray = field(default_factory=lambda: np.zeros(0))
    indptr: np.ndarray | None = None

    @property
    def n_terms(self):
        return len(self.row) + sum(int(np.count_nonzero(g)) for _, g in self.dense)

    def csr(self):
        """These terms with the sparse part sorted by row (stable) and ``indptr`` set."""
        if self.indptr is not None:
            return self
        order = np.argsort(self.row, kind="stable")
        counts = np.bincount(self.row, minlength=self.stop - self.start)
        return Terms(self.start, self.stop, self.n, self.dense, self.row[order].astype(np.int32),
                     self.col[order].astype(np.int32), self.g2w[order], self.omega[order],
                     np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))


def _umklapp(s, weight_max, cut):
    """Integer shifts u (and index maps a -> index of s_a + u, -1 if absent) with some overlap."""
    lookup = {tuple(v): i for i, v in enumerate(s)}
    diffs = np.unique((s[None, :, :] - s[:, None, :]).reshape(-1, 2), axis=0)
    out = []
    for u in diffs:
        idx = np.array([lookup.get((a + u[0], b + u[1]), -1) for a, b in s])
        ok = idx >= 0
        if ok.any() and np.max(weight_max[ok] * weight_max[idx[ok]]) > cut:
            out.append((u, idx))
    return out


def moire_terms(Q, energy, vectors, s, basis, cell_area, modes, form_factor, m_e, m_h,
                start, stop, overlap_cut=1e-8, coupling_cut=1e-6, chunk_pairs=1 << 18, progress=None):
    """Moiré-basis coupling terms (SI Eq. 11) for initial states [start, stop).

    Q [n_Q, 2] 1/nm (Monkhorst-Pack grid of the mBZ), energy [n_Q, n_b] meV (only its
    shape is used), vectors [n_Q, n_b, n_g] omega_g^eta(Q), s [n_g, 2] integer plane-wave
    labels g = s1 b1 + s2 b2, basis [2, 2] rows b1, b2 (1/nm), cell_area (nm^2),
    modes: list of :class:`Mode`, form_factor F(|p|), m_e, m_h (m0) of the exciton.
    Terms with |O_u|^2 <= overlap_cut are dropped (|O_u| <= 1), and terms whose coupling
    is below ``coupling_cut`` times the mode's largest possible one, w max_q g2A(q) (a
    bound independent of the rank layout), are dropped.  Rows are processed in blocks of
    about ``chunk_pairs`` (i, f) pairs (memory); the sparse terms come out in CSR order,
    within a row ordered by (umklapp vector, mode, final state) whatever the rank layout.
    ``progress`` (optional, with ``update(rows)``) is told about every finished block of rows.
    """
    n_Q, n_b = energy.shape
    n = n_Q * n_b
    V = vectors.reshape(n, -1)
    Qs = np.repeat(Q, n_b, axis=0)                                    # [n, 2]
    w = 1.0 / (n_Q * cell_area)
    n_loc = stop - start
    ein = [m for m in modes if m.kind == "einstein"]
    deb = [m for m in modes if m.kind == "debye"]
    dense = [np.zeros((n_loc, n)) for _ in ein]
    wmax = np.max(np.abs(V) ** 2, axis=0)
    qs = np.linspace(0.0, 4.0 * np.max(np.linalg.norm(basis, axis=1)) * (1 + np.abs(s).max()), 4001)
    floor = {m.name: coupling_cut * w * float(np.max(m.g2A(qs, form_factor, m_e, m_h))) for m in modes}
    shifts = [(u @ basis, np.where(idx[None, :] >= 0, V[:, np.maximum(idx, 0)], 0.0).T.copy())
              for u, idx in _umklapp(np.asarray(s), wmax, overlap_cut)]  # omega_{g'+g_u}(Q'), [n_g, n]
    rows, cols, g2ws, oms = [], [], [], []
    step = max(1, chunk_pairs // n)
    # Row blocks are aligned to global multiples of `step`, so every overlap below comes from
    # the same GEMM shape and row offset whatever the rank layout: BLAS results can differ in
    # the last bit between shapes, and tables must be bit-identical on any number of ranks.
    for a0 in range(start - start % step, stop, step):
        a, b = max(a0, start), min(a0 + step, stop)
        Vc = np.conj(V[a0:min(a0 + step, n)])
        dQ = Qs[None, :, :] - Qs[a:b, None, :]                        # [b - a, n, 2]
        part = []
        for gu, shifted in shifts:
            o = (Vc @ shifted)[a - a0:b - a0]
            o2 = o.real ** 2 + o.imag ** 2                                         # |O_u|^2, [b - a, n]
            r, c = np.nonzero(o2 > overlap_cut)
            if not len(r):
                continue
            p = dQ[r, c] + gu
            q = np.sqrt(p[:, 0] ** 2 + p[:, 1] ** 2)
            ov = o2[r, c] * w
            rl = r + (a - start)
            F = form_factors(q, form_factor, m_e, m_h)
            for d, mode in zip(dense, ein):
                g = mode.g2A_from(q, *F) * ov
                d[rl, c] += np.where(g > floor[mode.name], g, 0.0)    # (r, c) unique within one u
            for mode in deb:
                g = mode.g2A_from(q, *F) * ov
                nz = g > floor[mode.name]
                part.append((rl[nz].astype(np.int32), c[nz].astype(np.int32), g[nz], mode.omega(q[nz])))
        if part:
            order = np.argsort(np.concatenate([p[0] for p in part]), kind="stable")
            for k, lst in enumerate((rows, cols, g2ws, oms)):
                lst.append(np.concatenate([p[k] for p in part])[order])
        if progress is not None:
            progress.update(b - a)
    terms = Terms(start, stop, n, dense=[(m.param, d) for m, d in zip(ein, dense)])
    if rows:  # one field at a time, freeing its chunks: peak memory ~ terms + one field
        for name, lst in (("row", rows), ("col", cols), ("g2w", g2ws), ("omega", oms)):
            setattr(terms, name, np.concatenate(lst))
            lst.clear()
    counts = np.bincount(terms.row, minlength=n_loc)
    terms.indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return terms


def channel_terms(channels, start, stop):
    """CSR terms of :class:`hpcx.physics.phonons.Channel` tables (e.g. multivalley_channels), rows [start, stop).

    Every nonzero coupling of every channel becomes one sparse term (its own phonon
    energy); within a row the terms are ordered by (channel, final state).
    """
    n = channels[0].g2w.shape[1]
    parts = []
    for ch in channels:
        g = np.asarray(ch.g2w)[start:stop]
        om = np.broadcast_to(ch.omega, ch.g2w.shape)[start:stop]
        r, c = np.nonzero(g)
        parts.append((r.astype(np.int32), c.astype(np.int32), g[r, c], np.array(om[r, c], dtype=float)))
    row = np.concatenate([p[0] for p in parts])
    order = np.argsort(row, kind="stable")
    col, g2w, om = (np.concatenate([p[k] for p in parts])[order] for k in (1, 2, 3))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=stop - start))]).astype(np.int64)
    return Terms(start, stop, n, row=row[order], col=col, g2w=g2w, omega=om, indptr=indptr)


def _kernel(kernel):
    """The rate kernel module: ``kernel`` if given, else :func:`hpcx._kernels.load`."""
    return kernel if kernel is not None else _load_kernel("scattering_rates")


def rates(E, terms: Terms, T, gamma, beta=2.0, width_min=0.0, reverse=False, kernel=None):
    """Golden-rule rates (1/ps) of the local rows: (W[i, f], and W[f, i] if reverse), [n_loc, n].

    E [n] meV; gamma [n] dephasing (meV); broadening HWHM max(Gamma_i + Gamma_f, width_min),
    generalised normal of shape beta; emission (n+1) L(E_f - E_i + Omega) and absorption
    n L(E_f - E_i - Omega).  W[f, i] uses the same coupling (symmetric in i <-> f).
    ``kernel``: the rate kernel module (default: the compiled one, or its NumPy twin under
    ``HPCX_KERNELS=reference``; tests pass the twin explicitly).
    """
    return _kernel_rates(_kernel(kernel), E, terms, T, gamma, beta, width_min, reverse, table=True)


def out_rates(E, terms: Terms, T, gamma, beta=2.0, width_min=0.0, kernel=None, nb=None):
    """Total out-scattering rates sum_f W[i, f] (1/ps) of the local rows, [n_loc]; the tables are
    never formed (nb: optional Bose factors of the CSR terms at T, ``phonons.bose(terms.csr().omega,
    T)``, to reuse over iterations)."""
    return _kernel_rates(_kernel(kernel), E, terms, T, gamma, beta, width_min, False, table=False, nb=nb)


def _kernel_rates(k, E, terms, T, gamma, beta, width_min, reverse, table, nb=None):
    E = np.ascontiguousarray(E, dtype=float)
    gamma = np.ascontiguousarray(gamma, dtype=float)
    n_loc = terms.stop - terms.start
    shape = (n_loc, terms.n)
    out = dict(fwd=np.zeros(shape), bwd=np.zeros(shape) if reverse else None) if table else \
        dict(rowsum=np.zeros(n_loc))
    for om, g2 in terms.dense:
        if np.ndim(om) != 0:
            raise ValueError("the rate kernel needs one phonon energy per dense mode (use sparse terms)")
        k.dense_rates(E, gamma, terms.start, np.ascontiguousarray(g2, dtype=float), float(om), T, _KB,
                      beta, width_min, **out)
    if len(terms.row):
        t = terms.csr()
        k.sparse_rates(E, gamma, terms.start, t.indptr, np.ascontiguousarray(t.col, dtype=np.int32),
                       np.ascontiguousarray(t.g2w, dtype=float), np.ascontiguousarray(t.omega, dtype=float),
                       T, _KB, beta, width_min, nb=nb, **out)
    pref = 2.0 * np.pi / _HBAR
    if not table:
        return pref * out["rowsum"]
    return (pref * out["fwd"], pref * out["bwd"]) if reverse else pref * out["fwd"]


def self_consistent_gamma(E, terms: Terms, T, beta=2.0, width_min=0.1, tol=1e-6, max_iter=200,
                          mixing=0.5, comm=None, kernel=None, progress=None, resume=None, after=None):
    """Fixed point of SI Eq. 24, Gamma_i = (hbar/2) sum_f W_if(Gamma), rows split over ranks.

    Damped iteration as :func:`hpcx.physics.phonons.self_consistent_dephasing` (same
    residual max|new - old| / max new); the new Gamma is allgathered every iteration.
    ``progress`` (optional, ``update()``) is told about every iteration; ``after(gamma,
    iterations)`` after every one that does not end it (on every rank alike), and ``resume``
    = (gamma [n] meV, iterations) such a pair to continue from, bit for bit (the start is
    Gamma = 0 otherwise).  Returns (gamma [n] meV, iterations, residual); ConvergenceError
    after max_iter.
    """
    if width_min <= 0.0:
        raise ValueError("self_consistent_gamma needs width_min > 0 (the start is Gamma = 0)")
    terms = terms.csr()
    nb = ph.bose(terms.omega, T)     # fixed during the iteration

    def update(gamma):
        local = 0.5 * _HBAR * out_rates(E, terms, T, gamma, beta, width_min, kernel, nb)
        return np.asarray(local) if comm is None else allgather_concat(local, comm)

    try:
        start, done = resume if resume is not None else (np.zeros(len(E)), 0)
        return ph.damped_fixed_point(update, start, tol, max_iter, mixing, "self-consistent dephasing",
                                     progress=progress, done=done, after=after)
    except ConvergenceError as exc:     # every rank iterates the same allgathered Gamma: all raise it
        raised_on_every_rank(exc, comm)
        raise


def detailed_balance(W_fwd, W_bwd, E, start, T):
    """Local rows of phonons.enforce_detailed_balance: sqrt(W_if W_fi) exp(-(E_f - E_i)/2kT), 1/ps."""
    E = np.asarray(E, dtype=float)
    dE = E[None, :] - E[start:start + W_fwd.shape[0], None]
    return np.sqrt(W_fwd * W_bwd) * np.exp(-dE / (2.0 * _KB * T))


def sampling_table(W, threshold=0.0):
    """Monte Carlo tables of the rows of W [n_loc, n] (1/ps), CSR.

    Keeps W_if >= threshold * sum_f W_if.  Returns dict: total_rate [n_loc] (1/ps, all
    final states), counts [n_loc], indices (final states, concatenated rows),
    cumulative (per row increasing, last entry exactly 1), dropped [n_loc] (fraction of
    the total rate dropped).  W_if = diff(cumulative) * total_rate * (1 - dropped).
    """
    total = W.sum(axis=1)
    keep = W >= threshold * total[:, None]
    keep &= W > 0.0
    kept = np.where(keep, W, 0.0).sum(axis=1)
    counts = keep.sum(axis=1)
    idx, cum = [], []
    for i in range(W.shape[0]):
        cols = np.nonzero(keep[i])[0]
        c = np.cumsum(W[i, cols]) / kept[i] if len(cols) else np.zeros(0)
        if len(c):
            c[-1] = 1.0
        idx.append(cols)
        cum.append(c)
    lost = np.where(keep, 0.0, W).sum(axis=1)
    dropped = np.where(total > 0, lost / np.where(total > 0, total, 1.0), 0.0)
    return dict(total_rate=total, counts=counts.astype(np.int64),
                indices=np.concatenate(idx).astype(np.int64) if idx else np.zeros(0, np.int64),
                cumulative=np.concatenate(cum) if cum else np.zeros(0), dropped=dropped)


def rta_curve(E, v, tau, T, weight=None):
    """RTA diffusion (SI Eq. 23) for a Boltzmann distribution: (D cm^2/s, v2_eff nm^2/ps^2, tau_eff ps).

    Wraps :func:`hpcx.physics.phonons.rta_diffusion`; 1 nm^2/ps = 0.01 cm^2/s.
    """
    D, v2, t = ph.rta_diffusion(E, v, tau, T, weight)
    return 0.01 * D, v2, t
