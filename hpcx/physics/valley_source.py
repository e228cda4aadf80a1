"""Optical source of seed 002: a Gaussian pulse excites the coherent bright polarization p0(r, t),
which phonons turn into incoherent excitons at the rate Gamma^{v,KK}_{Q,0} |p0|^2 (Eq. 1).

Pulse amplitude A(r, t) ~ exp(-4 ln2 (t - t0)^2 / fwhm_t^2) exp(-4 ln2 r^2 / fwhm_r^2).  The
polarization follows dp/dt = -(R/2) p + A(t) with R the total decay rate of |p|^2
(formation plus radiative), so |p0(r, t)|^2 = u(r) f(t) with u = |A(r)|^2 / int |A|^2 d^2r
(a Gaussian with <r^2> = fwhm_r^2 / (8 ln 2)) and f normalised to int R f dt = 1: the
excitation creates one coherent exciton, which ends as incoherent excitons or light.
Units: ps, nm, 1/ps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import trapezoid as _trapz
from scipy.special import erfc, erfcx

__all__ = ["Pulse", "polarization_intensity", "spot_transform"]

_LN2 = np.log(2.0)


@dataclass(frozen=True)
class Pulse:
    """Excitation: centre ``t0`` (ps), amplitude FWHM in time ``fwhm_t`` (ps) and space ``fwhm_r`` (nm)."""

    t0: float = 0.2
    fwhm_t: float = 0.1
    fwhm_r: float = 500.0

    @property
    def sigma_t(self) -> float:
        """Standard deviation of the amplitude's Gaussian in time (ps)."""
        return self.fwhm_t / (2.0 * np.sqrt(2.0 * _LN2))

    @property
    def width2(self) -> float:
        """<r^2> of the formation profile u(r) = |A(r)|^2 normalised (nm^2)."""
        return self.fwhm_r ** 2 / (8.0 * _LN2)

    def end(self, decay_rate: float, digits: float = 40.0) -> float:
        """A time after which f(t) < e^-digits of its peak (ps)."""
        return self.t0 + 9.0 * self.sigma_t + digits / max(decay_rate, 1e-12)


def _amplitude(t, pulse, kappa):
    """p(t) = int_{-inf}^t e^{-kappa (t - t')} exp(-(t' - t0)^2 / (2 sigma^2)) dt' (closed form)."""
    s = pulse.sigma_t
    tau = np.asarray(t, dtype=float) - pulse.t0
    z = (kappa * s * s - tau) / (s * np.sqrt(2.0))
    pre = s * np.sqrt(0.5 * np.pi)
    safe = np.where(z >= 0.0, z, 0.0)
    pos = pre * np.exp(-tau * tau / (2 * s * s)) * erfcx(safe)
    neg_exp = np.minimum(0.5 * (kappa * s) ** 2 - kappa * tau, 700.0)
    neg = pre * np.exp(neg_exp) * erfc(np.where(z < 0.0, z, 0.0))
    return np.where(z >= 0.0, pos, neg)


def polarization_intensity(pulse: Pulse, decay_rate: float):
    """f(t) = |p0(t)|^2 / N (1/ps), with int decay_rate f dt = 1; returns a callable of t (ps)."""
    kappa = 0.5 * decay_rate
    t = np.linspace(pulse.t0 - 10 * pulse.sigma_t, pulse.end(decay_rate), 200001)
    norm = decay_rate * _trapz(_amplitude(t, pulse, kappa) ** 2, t)
    return lambda time: _amplitude(time, pulse, kappa) ** 2 / norm


def spot_transform(k, pulse: Pulse):
    """2D Fourier transform of u(r) at |k| (1/nm): exp(-k^2 <r^2> / 4), u(k = 0) = 1."""
    return np.exp(-np.asarray(k, dtype=float) ** 2 * pulse.width2 / 4.0)
