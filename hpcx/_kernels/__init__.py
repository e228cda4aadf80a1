"""Compiled Cython kernels (built from the top-level ``kernels/`` sources by setup.py)."""
