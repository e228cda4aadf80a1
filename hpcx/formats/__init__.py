"""Readers and writers of foreign file formats (Wannier90, ...).

Physics modules never parse files: a format module turns files into the
library's model objects (e.g. :class:`hpcx.bse.tbmodel.TBModel`) and raises
:class:`hpcx.errors.InputError` naming the file and line of anything it
cannot accept.
"""
