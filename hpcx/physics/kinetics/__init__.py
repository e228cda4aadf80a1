"""Interlayer exciton formation and luminescence (seed 001, luminescence Bloch equations).

Small modules with one job each (units: meV, nm, ps, m0, K; docs/theory/kinetics.md):

* :mod:`.states`       -- exciton species and the shared centre-of-mass momentum shells
* :mod:`.overlaps`     -- form factors and relative-motion overlaps from phi(r) (Hankel transform)
* :mod:`.detailed_balance` -- angle quadrature, broadened energy conservation, detailed balance
* :mod:`.phonon_rates` -- Born-Markov exciton-phonon rate tables (vertex of seed 000 SI Eq. 2)
* :mod:`.tunnelling`   -- disorder-assisted interlayer tunnelling rates (seed 001 Methods)
* :mod:`.dynamics`     -- the pump, the polarization (Eq. 2), the occupation ODEs (Eq. 3)
* :mod:`.luminescence` -- PL spectra, crossover time, equilibrium lifetimes and crossover temperature
"""
