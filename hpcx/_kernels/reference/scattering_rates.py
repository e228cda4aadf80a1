"""NumPy twin of kernels/scattering_rates.pyx: golden-rule exciton-phonon rates of local table rows.

Same functions and arguments as ``hpcx._kernels.scattering_rates``.  For local row i
(global state start + i) and final state f one coupling term (g2 meV^2, phonon energy om
meV) contributes, without the prefactor 2 pi / hbar,

    W[i, f] += g2 ((n + 1) L(x + om) + n L(x - om)),   x = E[f] - E[start + i],
    W[f, i] += g2 ((n + 1) L(-x + om) + n L(-x - om))  (reverse table),

with n = 1/(exp(om / kT) - 1) and L the generalised normal density of shape beta whose
half width at half maximum is max(gamma_i + gamma_f, width_min).  Outputs accumulate
(+=): row sums [n_loc] or tables [n_loc, n].  Vectorised over all terms at once, so the
sums run in another order than the kernel's: results agree to round-off.  Units: meV, K;
kb in meV/K.
"""

import math

import numpy as np

UNDERFLOW = 746.0   # exp(-t) == 0.0 in double precision for t > 745.2


def _constants(beta):
    """(norm, hwhm -> 1/sigma factor, gaussian?) of the generalised normal of shape beta."""
    gauss = beta == 2.0
    norm = 1.0 / math.sqrt(math.pi) if gauss else beta / (2.0 * math.gamma(1.0 / beta))
    return norm, math.log(2.0) ** (1.0 / beta), gauss


def _density(x, inv, norm, beta, gauss):
    """norm * inv * exp(-(|x| inv)^beta); 0 where the exponent exceeds UNDERFLOW."""
    y = np.abs(x) * inv
    t = y * y if gauss else y ** beta
    return np.where(t > UNDERFLOW, 0.0, norm * inv * np.exp(-np.minimum(t, UNDERFLOW)))


def _bose(om, kT):
    om = np.asarray(om, dtype=float)
    if kT <= 0.0:
        return np.zeros_like(om)
    with np.errstate(over="ignore", divide="ignore"):
        return 1.0 / np.expm1(om / kT)


def _pairs(x, om, g2, wid, nb, beta):
    """Forward and reverse contributions of the terms (arrays of one shape)."""
    norm, h2s, gauss = _constants(beta)
    inv = h2s / wid
    ep = _density(x + om, inv, norm, beta, gauss)
    em = _density(x - om, inv, norm, beta, gauss)
    none = (ep == 0.0) & (em == 0.0)
    with np.errstate(invalid="ignore"):
        fwd = np.where(none, 0.0, g2 * ((nb + 1.0) * ep + nb * em))
        bwd = np.where(none, 0.0, g2 * ((nb + 1.0) * em + nb * ep))   # L is even: (-x + om) = -(x - om)
    return fwd, bwd


def _check(E, gamma, start, n_loc, n, rowsum, fwd, bwd):
    if E.shape[0] != n or gamma.shape[0] != n or start < 0 or start + n_loc > n:
        raise ValueError("E and gamma need n entries and rows start..start+n_loc inside them")
    if rowsum is not None and rowsum.shape[0] != n_loc:
        raise ValueError("rowsum must have n_loc entries")
    for out in (fwd, bwd):
        if out is not None and (out.shape[0] != n_loc or out.shape[1] != n):
            raise ValueError("fwd/bwd must be [n_loc, n]")


def _accumulate(row, col, f, b, n_loc, n, rowsum, fwd, bwd):
    flat = row * n + col
    if rowsum is not None:
        rowsum += np.bincount(row, f, minlength=n_loc)
    if fwd is not None:
        fwd += np.bincount(flat, f, minlength=n_loc * n).reshape(n_loc, n)
    if bwd is not None:
        bwd += np.bincount(flat, b, minlength=n_loc * n).reshape(n_loc, n)


def dense_rates(E, gamma, start, g2, om, T, kb, beta, width_min, rowsum=None, fwd=None, bwd=None):
    """Add one dense mode's rates (no 2 pi/hbar) to rowsum [n_loc] and/or fwd, bwd [n_loc, n]."""
    E, gamma, g2 = np.asarray(E, dtype=float), np.asarray(gamma, dtype=float), np.asarray(g2, dtype=float)
    n_loc, n = g2.shape
    _check(E, gamma, start, n_loc, n, rowsum, fwd, bwd)
    row, col = np.nonzero(g2)
    i = start + row
    wid = np.maximum(gamma[i] + gamma[col], width_min)
    f, b = _pairs(E[col] - E[i], float(om), g2[row, col], wid, _bose(float(om), kb * T), beta)
    _accumulate(row, col, f, b, n_loc, n, rowsum, fwd, bwd)


def sparse_rates(E, gamma, start, indptr, col, g2, om, T, kb, beta, width_min, rowsum=None, fwd=None,
                 bwd=None, nb=None):
    """Add CSR couplings (row i: terms indptr[i]..indptr[i+1]) to rowsum and/or fwd, bwd.

    nb: Bose factors of the terms at T (optional; computed per term otherwise)."""
    E, gamma = np.asarray(E, dtype=float), np.asarray(gamma, dtype=float)
    indptr = np.asarray(indptr, dtype=np.int64)
    col, g2, om = np.asarray(col, dtype=np.int64), np.asarray(g2, dtype=float), np.asarray(om, dtype=float)
    n_loc, n = len(indptr) - 1, len(E)
    if nb is not None and len(nb) != len(g2):
        raise ValueError("nb must have one entry per term")
    if len(col) != len(g2) or len(om) != len(g2) or indptr[n_loc] > len(g2):
        raise ValueError("col, g2, om must have indptr[-1] entries")
    _check(E, gamma, start, n_loc, n, rowsum, fwd, bwd)
    m = int(indptr[n_loc])
    row = np.repeat(np.arange(n_loc), np.diff(indptr))
    col, g2, om = col[:m], g2[:m], om[:m]
    nbs = np.asarray(nb, dtype=float)[:m] if (nb is not None and T > 0.0) else _bose(om, kb * T)
    i = start + row
    wid = np.maximum(gamma[i] + gamma[col], width_min)
    f, b = _pairs(E[col] - E[i], om, g2, wid, nbs, beta)
    _accumulate(row, col, f, b, n_loc, n, rowsum, fwd, bwd)
