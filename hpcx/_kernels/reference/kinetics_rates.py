"""NumPy twin of kernels/kinetics_rates.pyx: golden-rule pair-rate densities on momentum shells.

Same functions, arguments and definitions as the kernel (see its module docstring);
one row at a time, vectorised over the columns that can be on the energy shell and
the angle nodes.
"""

import numpy as np
from scipy.special import gamma as gamma_function

from hpcx.units import HBAR2_2M0_MEV_NM2 as _H
from hpcx.units import HBAR_MEV_PS as _HBAR
from hpcx.units import KB_MEV_PER_K as _KB

_Q_FLOOR = 1e-9


def _table(values, p_max, p):
    grid = np.linspace(0.0, p_max, len(values))
    return np.interp(p, grid, values, right=0.0)


def _transfer(a, b, cos):
    return np.sqrt(np.maximum(a * a + b * b - 2.0 * a * b * cos, 0.0))


def _broadening(x, hwhm, shape):
    sigma = hwhm / np.log(2.0) ** (1.0 / shape)
    return shape / (2.0 * sigma * gamma_function(1.0 / shape)) * np.exp(-(np.abs(x) / sigma) ** shape)


def phonon_rates(q_from, E_from, q_to, E_to, cos, form, p_max, kind, value, D_e, D_h, rho, m_e, m_h, T_K,
                 hwhm, shape, cutoff):
    """r (n_from, n_to) nm^2/ps of the phonon modes (kind, value, D_e, D_h, rho) of one species."""
    q_to, E_to, cos = np.asarray(q_to, float), np.asarray(E_to, float), np.asarray(cos, float)
    M = m_e + m_h
    out = np.zeros((len(q_from), len(q_to)))
    for i, (qi, Ei) in enumerate(zip(q_from, E_from)):
        dE_all = E_to - Ei
        for m in range(len(kind)):
            if kind[m] == 0:
                near = np.abs(dE_all) <= _HBAR * value[m] * (qi + q_to) + cutoff
            else:
                near = np.abs(np.abs(dE_all) - value[m]) <= cutoff
            if not near.any():
                continue
            q = np.maximum(_transfer(qi, q_to[near][:, None], cos[None, :]), _Q_FLOOR)
            dE = dE_all[near][:, None]
            if kind[m] == 0:
                omega, de, dh = _HBAR * value[m] * q, D_e[m] * q, D_h[m] * q
            else:
                omega, de, dh = np.full_like(q, value[m]), D_e[m], D_h[m]
            vertex = de * _table(form, p_max, m_h / M * q) - dh * _table(form, p_max, m_e / M * q)
            n = 1.0 / np.expm1(omega / (_KB * T_K))
            shape_ = (n + 1.0) * _broadening(dE + omega, hwhm, shape) + n * _broadening(dE - omega, hwhm, shape)
            out[i, near] += np.mean(_H * vertex ** 2 / (rho[m] * omega) * shape_, axis=1)
    return 2.0 * np.pi / _HBAR * out


def tunnelling_rates(q_from, E_from, q_to, E_to, cos, overlap, p_max, c_from, c_to, coupling, correlation_length,
                     hwhm, shape, cutoff):
    """r (n_from, n_to) nm^2/ps of tunnelling from one species (spectator fraction c_from) to another (c_to)."""
    q_to, E_to, cos = np.asarray(q_to, float), np.asarray(E_to, float), np.asarray(cos, float)
    lc = correlation_length
    out = np.zeros((len(q_from), len(q_to)))
    for i, (qi, Ei) in enumerate(zip(q_from, E_from)):
        dE = E_to - Ei
        near = np.abs(dE) <= cutoff
        if not near.any():
            continue
        qj = q_to[near][:, None]
        k = _transfer(qi, qj, cos[None, :])
        p = _transfer(c_from * qi, c_to * qj, cos[None, :])
        T2A = coupling * np.pi * lc * lc / (1.0 + 0.5 * (k * lc) ** 2) ** 1.5
        angular = np.mean(T2A * _table(overlap, p_max, p) ** 2, axis=1)
        out[i, near] = 2.0 * np.pi / _HBAR * angular * _broadening(dE[near], hwhm, shape)
    return out
