"""Atomistic Bethe-Salpeter equation in a Wannier / tight-binding basis (seed 004).

Modules: ``tbmodel`` (the one single-particle interface every source produces:
Wannier90 files, built-in tight-binding models, supercells), and the BSE
pieces built on it.  Units follow Wannier90: eV and Angstrom.
"""
