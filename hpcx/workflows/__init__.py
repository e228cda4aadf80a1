"""Workflow registry: config -> physics -> output.

Every module in this package is a workflow named after the module.  It defines
``SCHEMA`` (a :class:`hpcx.config.Schema`), ``check(config)`` (semantic
validation that needs data files, before any computation; raises ConfigError),
``run(config, writer, comm, timer)`` and optionally ``plot(run, stem)`` (PNG
figures of a finished run file; returns the paths).  Adding a workflow means
adding one module: nothing here needs editing.
"""

import importlib
import pkgutil

WORKFLOW_MODULES = {
    info.name: f"{__name__}.{info.name}"
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name)
    if not info.name.startswith("_")
}


def load(name):
    return importlib.import_module(WORKFLOW_MODULES[name])


def schemas():
    """{workflow name: Schema} of every registered workflow."""
    return {name: load(name).SCHEMA for name in WORKFLOW_MODULES}
