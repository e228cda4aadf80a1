"""Physical constants and unit conventions (CODATA values from scipy.constants).

Conventions: transport, kinetics and the Wannier equation work in meV, nm, ps
and the free electron mass m0; atomistic BSE works in eV and Angstrom as
Wannier90 does.  Diffusion coefficients are reported in cm^2/s.
"""

from scipy import constants as _c

#: hbar in meV ps
HBAR_MEV_PS = _c.hbar / _c.e * 1e3 * 1e12
#: hbar^2 / (2 m0) in meV nm^2
HBAR2_2M0_MEV_NM2 = _c.hbar**2 / (2 * _c.m_e) / _c.e * 1e3 * 1e18
#: hbar c in meV nm (light-cone radius Q_lc = E_X / (hbar c))
HBAR_C_MEV_NM = _c.hbar * _c.c / _c.e * 1e3 * 1e9
#: e^2 / (4 pi eps0) in meV nm
COULOMB_MEV_NM = _c.e / (4 * _c.pi * _c.epsilon_0) * 1e3 * 1e9
#: e^2 / (4 pi eps0) in eV Angstrom
COULOMB_EV_ANGSTROM = _c.e / (4 * _c.pi * _c.epsilon_0) * 1e10
#: Boltzmann constant in meV / K
KB_MEV_PER_K = _c.k / _c.e * 1e3
#: 1 nm^2/ps expressed in cm^2/s
NM2_PER_PS_IN_CM2_PER_S = 1e-14 / 1e-12
#: free electron mass in kg
M0_KG = _c.m_e
