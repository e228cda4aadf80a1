"""Physical constants in hpcx units (meV, nm, ps, K, electron mass m0).

All values are derived from scipy.constants (CODATA), never typed by hand.
"""
from scipy import constants as _c

_MEV = 1e-3 * _c.e  # J per meV
_NM = 1e-9          # m per nm

#: hbar^2 / (2 m0) in meV nm^2 (= 38.09982 meV nm^2).
HBAR2_2M0_MEV_NM2 = _c.hbar**2 / (2.0 * _c.m_e) / (_MEV * _NM**2)
#: e^2 / (4 pi eps0) in meV nm (= 1439.9645 meV nm).
COULOMB_MEV_NM = _c.e**2 / (4.0 * _c.pi * _c.epsilon_0) / (_MEV * _NM)
#: hbar in meV ps (= 0.6582119569 meV ps).
HBAR_MEV_PS = _c.hbar / (_MEV * 1e-12)
#: Boltzmann constant in meV / K (= 0.08617333 meV/K).
KB_MEV_PER_K = _c.k / _MEV
