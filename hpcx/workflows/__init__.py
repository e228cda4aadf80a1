"""Workflow registry: every package ``hpcx/workflows/<name>/`` is a workflow named ``<name>``.

A workflow package exports (from its modules):

``SCHEMA`` (``schema.py``)
    the :class:`hpcx.config.Schema` of its config sections.
``params(cfg, comm_size) -> Params`` (``schema.py``)
    a frozen dataclass of plain, typed values (materials resolved, paths
    resolved against the config file's directory); the only place that raises
    :class:`~hpcx.errors.ConfigError`, always before any computation.
``run(params, ctx) -> Result`` (``run.py``)
    the phases, each a short function calling library code; ``ctx`` is a
    :class:`hpcx.context.RunContext` (communicator, timer, log, output path).
``Result`` (``result.py``)
    ``write(writer)`` writes ``/results`` (docs/output.md); ``Result.read(runfile)``
    reads a finished run file back.
``plot(run, stem) -> [paths]`` (``plot.py``)
    PNG figures of a finished run file (:class:`hpcx.io.RunFile`).

Optional: ``estimate_memory(params, comm_size) -> bytes`` (peak per rank, logged
and checked before the run) with ``MEMORY_KEYS`` (the config keys that drive it,
named when a run is refused), ``sweep_overrides(params) -> [dict]`` (one
config override per point of a sweep, for ``hpcx sweep``), ``input_files(params)``
(``[(key, path, workflow)]`` of run files the workflow reads, opened and checked
before the run; ``workflow=None`` for other files that must exist).
See docs/reliability.md for these and for polling ``ctx.stop_requested()``.
Adding a workflow means adding one package: nothing here needs editing.
Workflows never import each other; what two share lives in the library.
"""

import importlib
import pkgutil

WORKFLOW_MODULES = {
    info.name: f"{__name__}.{info.name}"
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name)
    if not info.name.startswith("_")
}


def load(name):
    """The workflow package ``name``."""
    return importlib.import_module(WORKFLOW_MODULES[name])


def schemas():
    """{workflow name: Schema} of every registered workflow."""
    return {name: load(name).SCHEMA for name in WORKFLOW_MODULES}
