"""Workflow registry: config -> physics -> output.

A workflow module defines ``SCHEMA`` (a :class:`hpcx.config.Schema`),
``check(config)`` (semantic validation that needs data files, before any
computation; raises ConfigError) and ``run(config, writer, comm, timer)``.
"""

import importlib

WORKFLOW_MODULES = {
    "wannier": "hpcx.workflows.wannier",
    "moire": "hpcx.workflows.moire",
    "scattering": "hpcx.workflows.scattering",
}


def load(name):
    return importlib.import_module(WORKFLOW_MODULES[name])


def schemas():
    """{workflow name: Schema} of every registered workflow."""
    return {name: load(name).SCHEMA for name in WORKFLOW_MODULES}
