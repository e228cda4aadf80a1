"""NumPy twins of the compiled kernels: ``reference.<stem>`` mirrors ``hpcx._kernels.<stem>``."""
