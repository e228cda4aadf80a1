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

from . import checks, resources, workflows
from .config import Config, dump_toml, parse_toml, read_config_text
from .config import validate as validate_text
from .context import RunContext
from .errors import CheckpointedStop, ConfigError, InputError, OutputExistsError
from .io import RunFile, RunWriter, check_output_path, checkpoint
from .log import PhaseTimer, get_logger
from .parallel import all_or_none, get_comm, max_over_ranks, on_root
from .stopping import StopFlag, handle_signals

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
    sizes) on every rank, failing on all ranks together; then opens every
    input file the workflow names (its ``input_files(params)``) on rank 0 and
    checks that it exists, holds a finished run of the expected workflow and
    that this workflow's ``Result`` can read it (no dataset missing).
    """
    comm = get_comm(comm)
    cfg = load_config(config, comm=comm, source=source)
    workflow = workflows.load(cfg.workflow)
    with all_or_none(comm):
        params = workflow.params(cfg, comm.size)
    on_root(check_input_files, comm, workflow, cfg, params)
    return cfg, params


def check_input_files(workflow, cfg, params):
    """Open every input file of ``workflow.input_files(params)``; ConfigError naming the key.

    Each entry is ``(key, path, expected_workflow)``: a finished hpcx run file
    of that workflow (read back completely with its ``Result.read``), or, with
    ``expected_workflow=None``, any file or directory that must exist.
    """
    for key, path, expected in getattr(workflow, "input_files", lambda p: [])(params):
        path = Path(path)
        try:
            if expected is None:
                if not path.exists():
                    raise InputError(f"{path}: no such file or directory")
                continue
            with RunFile(path, expect_workflow=expected) as runfile:
                _check_complete(runfile, expected)
        except InputError as exc:
            raise ConfigError(cfg.source, key, str(exc)) from None


def _check_complete(runfile, expected):
    if not runfile.attrs.get("finished"):
        raise InputError(f"{runfile.path}: the run did not finish (attribute 'finished' is empty)")
    producer = workflows.load(expected)
    if not hasattr(producer, "Result"):
        return
    try:
        producer.Result.read(runfile)
    except Exception as exc:  # noqa: BLE001 - any failure to read back means an incomplete file
        detail = str(exc).removeprefix(f"{runfile.path}: ") if isinstance(exc, InputError) else \
            f"{type(exc).__name__}: {exc}"
        raise InputError(f"{runfile.path}: an incomplete '{expected}' run file ({detail})") from None


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


def _check_output(output, cfg, overwrite, comm):
    """The output guards of :func:`hpcx.io.check_output_path` on rank 0, before any work."""
    config_file = None if cfg.source.startswith("<") else Path(cfg.source)
    with all_or_none(comm):
        if comm.rank == 0:
            check_output_path(output, overwrite, protect=(config_file,))


def check_memory(workflow, cfg, params, comm, log=None):
    """Log the workflow's memory estimate and refuse a run that cannot fit (collective).

    Uses ``estimate_memory(params, comm.size)`` (extra peak bytes per rank)
    and ``MEMORY_KEYS`` (the config keys that drive it) of the workflow; see
    :mod:`hpcx.resources` for the limit and ``[run] memory_limit`` /
    ``allow_oversubscribe_memory``.  Returns the planned peak per rank (the
    rank's current resident set + the estimate), None without an estimate.
    """
    log = log or get_logger()
    estimator = getattr(workflow, "estimate_memory", None)
    if estimator is None:
        log.info("memory estimate: none (workflow %s has no estimate_memory)", cfg.workflow)
        return None
    on_node = resources.ranks_on_node(comm)
    line = estimate = budget = None
    with all_or_none(comm):
        estimate = int(estimator(params, comm.size))
        budget = resources.memory_budget(on_node, cfg.run.memory_limit)
        line = resources.check_memory(estimate, budget, workflow=cfg.workflow,
                                      keys=getattr(workflow, "MEMORY_KEYS", ()),
                                      allow_oversubscribe=cfg.run.allow_oversubscribe_memory,
                                      source=cfg.source)
    (log.warning if "OVER the limit" in line else log.info)("%s", line)
    return budget.rss + estimate


def run(config, output, *, comm=None, overwrite=False, reuse=False, source=None, log_level=None):
    """Validate, check, compute and write one run; returns the path of the finished run file.

    ``log_level`` overrides the config's ``run.log_level`` for rank 0.
    ``reuse=True`` returns ``output`` untouched when it is a finished run of the
    same workflow and config (figure scripts declare their runs this way).
    Before any computation: the output path is checked (not a directory, not
    the config itself, not an existing file without ``overwrite``), the
    config and its input files are validated and the memory estimate is
    checked against the available memory.  While the workflow runs,
    SIGTERM/SIGINT/SIGUSR1 ask it to stop at its next safe point
    (:mod:`hpcx.stopping`).
    Errors a user can fix are :class:`~hpcx.errors.HpcxError`, raised on every rank.
    """
    comm = get_comm(comm)
    cfg = load_config(config, comm=comm, source=source)
    output = Path(output)
    log = get_logger()
    log.setLevel((log_level or cfg.run.log_level) if comm.rank == 0 else "WARNING")
    _check_output(output, cfg, overwrite or reuse, comm)
    cfg, params = validate(cfg, comm=comm)
    if reuse and _reusable(output, cfg, overwrite, comm):
        log.info("hpcx run: %s is up to date (same %s config), reused", output, cfg.workflow)
        return output
    workflow = workflows.load(cfg.workflow)
    log.info("hpcx run: workflow %s, config %s, %d rank(s), output %s",
             cfg.workflow, cfg.source, comm.size, output)
    planned = check_memory(workflow, cfg, params, comm, log)
    start = time.perf_counter()
    ctx = RunContext(comm=comm, timer=PhaseTimer(), output=output, workflow=cfg.workflow,
                     stop_flag=StopFlag(comm))
    with handle_signals(ctx.stop_flag, log), checks.warnings_to_log(log):
        final = _compute_and_write(workflow, cfg, params, ctx, overwrite or reuse)
    wall = time.perf_counter() - start
    peak = max_over_ranks(resources.peak_rss(), comm)
    log.info("peak memory: %s per rank (largest over ranks; estimated %s)", resources.gib(peak),
             "-" if planned is None else resources.gib(max_over_ranks(planned, comm)))
    log.info("finished: %s (%.2f s wall, %.4f cpu-hours on %d rank(s))",
             final, wall, wall * comm.size / 3600.0, comm.size)
    return final


def _compute_and_write(workflow, cfg, params, ctx, overwrite):
    comm, timer = ctx.comm, ctx.timer
    writer_args = dict(workflow=cfg.workflow, config_text=cfg.text, config_source=cfg.source,
                       overwrite=overwrite)
    try:
        result = workflow.run(params, ctx)
    except CheckpointedStop as exc:
        exc.collective = True        # raised by every rank at an agreed stop (ctx.stop_requested)
        raise
    if hasattr(ctx.stop_flag, "defer"):
        if ctx.stop_flag.local:
            ctx.log.warning("stop requested after the last safe point: writing the finished result")
        ctx.stop_flag.defer()            # the computed result is written, whatever comes now
    with RunWriter(ctx.output, comm, **writer_args) as writer:
        with timer.phase("write", ctx.log):
            result.write(writer)
        final = writer.finish(timer.seconds)
    # restart files are kept until the run file is complete (a write error keeps them)
    checkpoint.remove(ctx.checkpoint_dir, comm)
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
    return workflow.sweep_overrides(workflow.params(cfg, comm_size))


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
