"""Photoluminescence of the luminescence Bloch equations (seed 001, PL formula).

Photon emission rate density of species s (nm^-2 ps^-1): the coherent and the
light-cone incoherent excitons decay radiatively at 2 gamma_r,

    I_s(t) = 2 gamma_r^s (|P_s(t)|^2 + f_lc^s n_s,0(t)),

(|M_s|^2 enters only through gamma_r^s, gamma_r ~ |M|^2).  The spectrum is
I(omega, t) = sum_s I_s(t) (hbar omega / E_s) L_s(hbar omega - E_s) with a
Lorentzian L_s of full width ``fwhm_s`` (meV): an energy flux per unit energy.
In a Boltzmann equilibrium at temperature T the light-cone occupations follow
exp(-E_s/kT) with one chemical potential for all species, which gives the
equilibrium emission ratio, the crossover temperature and the radiative
lifetime of the thermalised population in closed form.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.optimize import brentq

from hpcx.units import HBAR2_2M0_MEV_NM2 as _H
from hpcx.units import KB_MEV_PER_K as _KB

__all__ = ["emission_rates", "lorentzian", "spectrum", "peak_intensity", "crossover_time",
           "equilibrium_log_peak", "equilibrium_peak_ratio", "equilibrium_crossover_temperature",
           "equilibrium_radiative_lifetime"]


def emission_rates(coherent, first_shell, gamma_r: float, light_cone_fraction: float):
    """I_s(t) = 2 gamma_r (|P|^2 + f_lc n_0) (nm^-2/ps); coherent and first_shell (nt,) nm^-2."""
    return 2.0 * gamma_r * (np.asarray(coherent, dtype=float) + light_cone_fraction * np.asarray(first_shell))


def lorentzian(x_meV, fwhm_meV: float):
    """Normalised Lorentzian of full width fwhm (1/meV)."""
    g = 0.5 * fwhm_meV
    return g / np.pi / (np.asarray(x_meV, dtype=float) ** 2 + g * g)


def spectrum(photon_meV, rates, energies_meV: Sequence[float], fwhm_meV: Sequence[float]):
    """I(omega, t) (nm^-2 ps^-1 meV^-1), shape (nt, n_omega); rates (n_species, nt)."""
    w = np.asarray(photon_meV, dtype=float)
    out = np.zeros((np.shape(rates)[1], w.size))
    for I_s, E, f in zip(rates, energies_meV, fwhm_meV):
        out += np.outer(I_s, w / E * lorentzian(w - E, f))
    return out


def peak_intensity(rate, fwhm_meV: float):
    """Own emission of a species at its line centre, I_s L_s(0) (solid lines of seed Fig. 6c)."""
    return np.asarray(rate, dtype=float) * lorentzian(0.0, fwhm_meV)


def crossover_time(t, upper, lower, t_start: float = 0.0) -> float:
    """First time after t_start at which ``lower`` reaches ``upper`` (log-linear interpolation), ps; NaN if never."""
    t = np.asarray(t, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.log(np.asarray(lower, dtype=float)) - np.log(np.asarray(upper, dtype=float))
    ok = np.nonzero((t > t_start) & np.isfinite(d) & (d >= 0.0))[0]
    if ok.size == 0:
        return math.nan
    k = int(ok[0])
    if k == 0 or not np.isfinite(d[k - 1]):
        return float(t[k])
    return float(t[k - 1] + (t[k] - t[k - 1]) * (-d[k - 1]) / (d[k] - d[k - 1]))


def _log_thermal(energy, mass, T_K, e_lc):
    """log(density in the light cone), log(total density) of a Boltzmann band (common factor dropped)."""
    kT = _KB * T_K
    log_total = math.log(mass * kT / (4.0 * math.pi * _H)) - energy / kT
    return log_total + math.log(-math.expm1(-e_lc / kT)), log_total


def _thermal(energy, mass, T_K, e_lc):
    lc, total = _log_thermal(energy, mass, T_K, e_lc)
    return math.exp(lc), math.exp(total)


def equilibrium_log_peak(T_K, energies, masses, gamma_r, fwhm, light_cone_q) -> np.ndarray:
    """log of the peak emission I_s L_s(0) of each species in a common Boltzmann equilibrium (n_species,)."""
    ref = min(energies)
    out = []
    for E, M, g, f, q in zip(energies, masses, gamma_r, fwhm, light_cone_q):
        lc, _ = _log_thermal(E - ref, M, T_K, _H * q * q / M)
        out.append(math.log(2.0 * g * lorentzian(0.0, f)) + lc)
    return np.array(out)


def equilibrium_peak_ratio(T_K, energies, masses, gamma_r, fwhm, light_cone_q) -> np.ndarray:
    """Peak emission I_s L_s(0) of each species in a common Boltzmann equilibrium, relative to the largest."""
    logs = equilibrium_log_peak(T_K, energies, masses, gamma_r, fwhm, light_cone_q)
    return np.exp(logs - logs.max())


def equilibrium_crossover_temperature(energies, masses, gamma_r, fwhm, light_cone_q, upper: int = 0,
                                      lower: int = 1, bounds=(1.0, 2000.0)) -> float:
    """Temperature (K) at which species ``lower`` and ``upper`` emit equally at their peaks; NaN if none."""
    def log_ratio(T):
        r = equilibrium_log_peak(T, energies, masses, gamma_r, fwhm, light_cone_q)
        return r[lower] - r[upper]
    a, b = bounds
    fa, fb = log_ratio(a), log_ratio(b)
    if fa * fb > 0.0:
        return math.nan
    return brentq(log_ratio, a, b, xtol=1e-6)


def equilibrium_radiative_lifetime(T_K, energies, masses, gamma_r, light_cone_q) -> float:
    """Radiative lifetime (ps) of a population in Boltzmann equilibrium over all species:
    sum_s n_s / sum_s 2 gamma_r^s n_s,lc."""
    ref = min(energies)
    num = den = 0.0
    for E, M, g, q in zip(energies, masses, gamma_r, light_cone_q):
        lc, total = _thermal(E - ref, M, T_K, _H * q * q / M)
        num += total
        den += 2.0 * g * lc
    return num / den
