"""hpcx: MPI-parallel exciton physics for 2D semiconductors and moiré heterostructures."""

__version__ = "0.1.0"
