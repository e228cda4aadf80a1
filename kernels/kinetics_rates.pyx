# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Golden-rule pair-rate densities of the kinetics workflow on isotropic momentum shells.

Rows are states (|Q| = q_from[i], energy E_from[i]) of one exciton species, columns
shells (q_to[j], E_to[j]) of the same (phonons) or another species (tunnelling);
the angle between the momenta is averaged over the nodes ``cos`` (plain mean).  Result
r[i, j] in nm^2/ps: (2 pi / hbar) < A|M(q)|^2 L(...) >_theta.  Definitions (the NumPy
twin hpcx/_kernels/reference/kinetics_rates.py is the readable version;
docs/theory/kinetics.md sections 3-4):

* phonons, mode m: Omega = hbar v q (kind 0, Debye, value = v in nm/ps, vertex elements
  D q) or value (kind 1, Einstein, elements D); vertex D_e F(m_h/M q) - D_h F(m_e/M q);
  A|g|^2 = H vertex^2 / (rho Omega); [(n + 1) L(dE + Omega) + n L(dE - Omega)], n Bose;
* tunnelling: coupling pi L_C^2 / (1 + k^2 L_C^2 / 2)^(3/2) O(|c_a Q - c_b Q'|)^2 L(dE),
  k = |Q - Q'|, coupling = (V_z <u|u>)^2 in meV^2;
* L: generalized normal of half width ``hwhm`` (meV) and shape ``shape``; pairs (or
  modes) whose energy mismatch exceeds ``cutoff`` (meV) beyond every resonance are 0.

F and O are tables on a uniform grid of [0, p_max] (linear interpolation, 0 beyond).
Each row is computed on its own (bit-identical for any split of the rows).
"""

from cython.parallel import prange
from libc.math cimport exp, expm1, fabs, pow, sqrt, tgamma, log, M_PI

import numpy as np

from hpcx.units import HBAR2_2M0_MEV_NM2, HBAR_MEV_PS, KB_MEV_PER_K

cdef double _H = HBAR2_2M0_MEV_NM2
cdef double _HBAR = HBAR_MEV_PS
cdef double _KB = KB_MEV_PER_K
cdef double _Q_FLOOR = 1e-9


cdef inline double _table(const double[::1] v, double p_max, double p) noexcept nogil:
    cdef Py_ssize_t n = v.shape[0]
    cdef double dp = p_max / (n - 1)
    cdef double x
    cdef Py_ssize_t i
    if p > p_max:
        return 0.0
    x = p / dp
    i = <Py_ssize_t> x
    if i >= n - 1:
        return v[n - 1]
    return v[i] + (x - i) * (v[i + 1] - v[i])


cdef inline double _transfer(double a, double b, double c) noexcept nogil:
    cdef double s = a * a + b * b - 2.0 * a * b * c
    return sqrt(s) if s > 0.0 else 0.0


cdef inline double _broadening(double x, double sigma, double shape, double norm) noexcept nogil:
    return norm * exp(-pow(fabs(x) / sigma, shape))


def phonon_rates(const double[::1] q_from, const double[::1] E_from, const double[::1] q_to,
                 const double[::1] E_to, const double[::1] cos, const double[::1] form, double p_max,
                 const long[::1] kind, const double[::1] value, const double[::1] D_e, const double[::1] D_h,
                 const double[::1] rho, double m_e, double m_h, double T_K, double hwhm, double shape,
                 double cutoff):
    """r (n_from, n_to) nm^2/ps of the phonon modes (kind, value, D_e, D_h, rho) of one species."""
    cdef Py_ssize_t nr = q_from.shape[0], nc = q_to.shape[0], na = cos.shape[0], nm = kind.shape[0]
    out_arr = np.zeros((nr, nc))
    cdef double[:, ::1] out = out_arr
    cdef double sigma = hwhm / pow(log(2.0), 1.0 / shape)
    cdef double norm = shape / (2.0 * sigma * tgamma(1.0 / shape))
    cdef double kT = _KB * T_K
    cdef double M = m_e + m_h
    cdef double fe = m_h / M, fh = m_e / M
    cdef double pref = 2.0 * M_PI / _HBAR
    cdef Py_ssize_t i, j, m, a
    cdef double dE, q, omega, de, dh, vertex, n, acc, total, reach
    for i in prange(nr, nogil=True, schedule="static"):
        for j in range(nc):
            dE = E_to[j] - E_from[i]
            total = 0.0
            for m in range(nm):
                if kind[m] == 0:
                    reach = _HBAR * value[m] * (q_from[i] + q_to[j]) + cutoff
                    if fabs(dE) > reach:
                        continue
                elif fabs(fabs(dE) - value[m]) > cutoff:
                    continue
                acc = 0.0
                for a in range(na):
                    q = _transfer(q_from[i], q_to[j], cos[a])
                    if q < _Q_FLOOR:
                        q = _Q_FLOOR
                    if kind[m] == 0:
                        omega = _HBAR * value[m] * q
                        de = D_e[m] * q
                        dh = D_h[m] * q
                    else:
                        omega = value[m]
                        de = D_e[m]
                        dh = D_h[m]
                    vertex = de * _table(form, p_max, fe * q) - dh * _table(form, p_max, fh * q)
                    n = 1.0 / expm1(omega / kT)
                    acc = acc + _H * vertex * vertex / (rho[m] * omega) * (
                        (n + 1.0) * _broadening(dE + omega, sigma, shape, norm)
                        + n * _broadening(dE - omega, sigma, shape, norm))
                total = total + acc / na
            out[i, j] = pref * total
    return out_arr


def tunnelling_rates(const double[::1] q_from, const double[::1] E_from, const double[::1] q_to,
                     const double[::1] E_to, const double[::1] cos, const double[::1] overlap, double p_max,
                     double c_from, double c_to, double coupling, double correlation_length, double hwhm,
                     double shape, double cutoff):
    """r (n_from, n_to) nm^2/ps of tunnelling from one species (spectator fraction c_from) to another (c_to)."""
    cdef Py_ssize_t nr = q_from.shape[0], nc = q_to.shape[0], na = cos.shape[0]
    out_arr = np.zeros((nr, nc))
    cdef double[:, ::1] out = out_arr
    cdef double sigma = hwhm / pow(log(2.0), 1.0 / shape)
    cdef double norm = shape / (2.0 * sigma * tgamma(1.0 / shape))
    cdef double lc2 = correlation_length * correlation_length
    cdef double pref = 2.0 * M_PI / _HBAR
    cdef Py_ssize_t i, j, a
    cdef double dE, k, p, o, acc
    for i in prange(nr, nogil=True, schedule="static"):
        for j in range(nc):
            dE = E_to[j] - E_from[i]
            if fabs(dE) > cutoff:
                continue
            acc = 0.0
            for a in range(na):
                k = _transfer(q_from[i], q_to[j], cos[a])
                p = _transfer(c_from * q_from[i], c_to * q_to[j], cos[a])
                o = _table(overlap, p_max, p)
                acc = acc + coupling * M_PI * lc2 / pow(1.0 + 0.5 * k * k * lc2, 1.5) * o * o
            out[i, j] = pref * acc / na * _broadening(dE, sigma, shape, norm)
    return out_arr
