"""The public entry points: validate a config, run it, read a run file back.

The command line, the tests and the figure scripts all go through these, so a
run is validated, checked, computed and written the same way everywhere::

    import hpcx.api as hpcx
    path = hpcx.run("examples/quickstart.toml", "quickstart.h5", overwrite=True)
    result = hpcx.read(path)                  # the workflow's typed Result

A config is a TOML file path, a ``{section: {key: value}}`` mapping (written
into the run file as TOML), or a :class:`hpcx.config.Config`.  ``comm``
defaults to ``MPI.COMM_WORLD``; every rank of ``comm`` must make the call.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

from . import workflows
from .config import Config, dump_toml, parse_toml, read_config_text
from .config import validate as validate_text
from .context import RunContext
from .errors import ConfigError, OutputExistsError
from .io import RunFile, RunWriter, check_output_path
from .log import PhaseTimer, get_logger
from .parallel import all_or_none, get_comm, on_root

__all__ = ["load_config", "validate", "run", "read", "sweep_points", "point_config"]


def load_config(config, *, comm=None, source=None):
    """A validated :class:`Config` from a path, a mapping or a Config (collective)."""
    if isinstance(config, Config):
        return config
    comm = get_comm(comm)
    if isinstance(config, Mapping):
        source = source or "<config data>"
        text = dump_toml(config)
        base_dir = Path.cwd()
    else:
        source = str(config)
        text = on_root(read_config_text, comm, config)
        base_dir = None
    with all_or_none(comm):
        cfg = validate_text(text, source, workflows.schemas(), base_dir=base_dir)
    return cfg


def validate(config, *, comm=None, source=None):
    """(Config, Params) after every check that needs no computation; raises ConfigError.

    Runs the schema checks and the workflow's ``params`` (material names,
    input files, sizes) on every rank, failing on all ranks together.
    """
    comm = get_comm(comm)
    cfg = load_config(config, comm=comm, source=source)
    with all_or_none(comm):
        params = _params(workflows.load(cfg.workflow), cfg, comm.size)
    return cfg, params


def _params(workflow, cfg, comm_size):
    if hasattr(workflow, "params"):
        return workflow.params(cfg, comm_size)
    workflow.check(cfg)                 # a workflow module that takes the config itself
    return cfg


def _same_config(path, cfg):
    """True if ``path`` is a finished run file of the same workflow and config."""
    try:
        with RunFile(path) as old:
            if old.workflow != cfg.workflow:
                return False
            return parse_toml(old.config_text, str(path)) == parse_toml(cfg.text, cfg.source)
    except Exception:  # noqa: BLE001 - anything unreadable is simply not reusable
        return False


def _reusable(output, cfg, overwrite, comm):
    """True if ``output`` already holds this config's result; raise if it holds another's."""
    if not output.exists():
        return False
    same = on_root(_same_config, comm, output, cfg)
    if not same and not overwrite:
        raise OutputExistsError(f"{output} holds a different run; pass overwrite=True to replace it")
    return same


def run(config, output, *, comm=None, overwrite=False, reuse=False, source=None, log_level=None):
    """Validate, check, compute and write one run; returns the path of the finished run file.

    ``log_level`` overrides the config's ``run.log_level`` for rank 0.
    ``reuse=True`` returns ``output`` untouched when it is a finished run of the
    same workflow and config (figure scripts declare their runs this way).
    Errors a user can fix are :class:`~hpcx.errors.HpcxError`, raised on every rank.
    """
    comm = get_comm(comm)
    cfg, params = validate(config, comm=comm, source=source)
    output = Path(output)
    log = get_logger()
    log.setLevel((log_level or cfg.run.log_level) if comm.rank == 0 else "WARNING")
    if reuse and _reusable(output, cfg, overwrite, comm):
        log.info("hpcx run: %s is up to date (same %s config), reused", output, cfg.workflow)
        return output
    with all_or_none(comm):
        if comm.rank == 0:
            check_output_path(output, overwrite or reuse)
    workflow = workflows.load(cfg.workflow)
    log.info("hpcx run: workflow %s, config %s, %d rank(s), output %s",
             cfg.workflow, cfg.source, comm.size, output)
    start = time.perf_counter()
    ctx = RunContext(comm=comm, timer=PhaseTimer(), output=output, workflow=cfg.workflow)
    final = _compute_and_write(workflow, cfg, params, ctx, overwrite or reuse)
    wall = time.perf_counter() - start
    log.info("finished: %s (%.2f s wall, %.4f cpu-hours on %d rank(s))",
             final, wall, wall * comm.size / 3600.0, comm.size)
    return final


def _compute_and_write(workflow, cfg, params, ctx, overwrite):
    comm, timer = ctx.comm, ctx.timer
    writer_args = dict(workflow=cfg.workflow, config_text=cfg.text, config_source=cfg.source,
                       overwrite=overwrite)
    if not hasattr(workflow, "Result"):       # a workflow that writes while it computes
        with RunWriter(ctx.output, comm, **writer_args) as writer:
            workflow.run(params, writer, comm, timer)
            final = writer.finish(timer.seconds)
    else:
        result = workflow.run(params, ctx)
        with RunWriter(ctx.output, comm, **writer_args) as writer:
            with ctx.phase("write"):
                result.write(writer)
            final = writer.finish(timer.seconds)
    for phase, seconds in writer.timings.items():
        ctx.log.info("  timing %-24s %10.3f s", phase, seconds)
    return final


def read(path):
    """The typed Result of a finished run file (its workflow's ``Result.read``)."""
    with RunFile(path) as runfile:
        return workflows.load(runfile.workflow).Result.read(runfile)


# -- sweeps (job arrays) ---------------------------------------------------------

def _overrides(cfg, comm_size=1):
    workflow = workflows.load(cfg.workflow)
    if not hasattr(workflow, "sweep_overrides"):
        raise ConfigError(cfg.source, "run.workflow",
                          f"workflow '{cfg.workflow}' has no sweep points (one run per config)")
    return workflow.sweep_overrides(_params(workflow, cfg, comm_size))


def sweep_points(config, *, comm=None):
    """Number of independent points of the sweep a config describes."""
    cfg = load_config(config, comm=comm)
    return len(_overrides(cfg))


def point_config(config, index, *, comm=None):
    """TOML text of sweep point ``index`` (0-based) of a config, as a config of its own.

    Every point keeps the whole config (seeds included), so the points of a
    job array give the same numbers as the whole sweep in one run.
    """
    cfg = load_config(config, comm=comm)
    overrides = _overrides(cfg)
    if not 0 <= index < len(overrides):
        raise ConfigError(cfg.source, "run.workflow",
                          f"sweep point {index} does not exist (0..{len(overrides) - 1})")
    data = parse_toml(cfg.text, cfg.source)
    for section, values in overrides[index].items():
        data.setdefault(section, {}).update(values)
    return dump_toml(data, header=f"sweep point {index} of {len(overrides)} of {cfg.source} "
                                  f"(hpcx sweep point)")
