"""The ``hpcx`` command: run | validate | sweep | info | show | plot | bench | scaling | config-docs.

Errors a user can fix are printed as one line from rank 0 with a non-zero
exit code; ``--debug`` (before or after the command) adds the traceback.  An
error raised on only some MPI ranks aborts the communicator with that
message, so no rank hangs.  Exit codes: 0 success, 1 internal error, 2 an
error the user can fix (config, input, output path, memory), 74 the output
could not be written (full disk, quota, I/O error), 75 stopped by a signal
with a checkpoint (rerun to continue), 128 + N stopped by signal N before a
safe point (no checkpoint).
"""

from __future__ import annotations

import argparse
import faulthandler
import os
import sys
import traceback
from pathlib import Path

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 1


def _version_text():
    from . import __version__
    from .io import git_commit
    return f"hpcx {__version__} (git {git_commit()})"


class _VersionAction(argparse.Action):
    """``--version``: computed only when asked (it runs git)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        parser._print_message(_version_text() + "\n", sys.stdout)
        parser.exit()


def _launcher_rank():
    """This process's rank as ``mpirun``/``srun`` tells it (0 when started alone), known before MPI
    starts: command-line help and errors come once per job, not once per rank."""
    for name in ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"):
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 0


class _Parser(argparse.ArgumentParser):
    """An argument parser that prints (usage, help, errors) on the first rank only; every rank
    still exits with the same code.  Long options must be spelled out (no abbreviations: a
    mistyped ``--overwrit`` is an error, not ``--overwrite``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def _print_message(self, message, file=None):
        if _launcher_rank() == 0:
            super()._print_message(message, file)


def _parser():
    parser = _Parser(
        prog="hpcx", description="MPI-parallel exciton physics in 2D semiconductors and moiré heterostructures.",
        epilog="exit codes: 0 ok, 1 internal error, 2 bad config/input/output path/memory, "
               "74 output not written (disk full, quota, I/O error), 75 stopped with a checkpoint "
               "(rerun to continue), 128+N stopped by signal N without a checkpoint")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug log lines")
    parser.add_argument("--version", action=_VersionAction, help="print the hpcx version and git commit")
    # --debug is accepted after the command too; SUPPRESS keeps it from resetting the global one
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks and debug log lines")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name, **kwargs):
        return sub.add_parser(name, parents=[common], **kwargs)

    run = add("run", help="run the workflow a config file describes")
    run.add_argument("config", help="TOML config file (relative paths in it are relative to its directory)")
    run.add_argument("-o", "--output", help="run file to write (default: CONFIG's stem + .h5 in the current directory)")
    run.add_argument("--overwrite", action="store_true", help="replace an existing output file")

    validate = add("validate", help="check a config file and its input files without running it")
    validate.add_argument("config", help="TOML config file")

    sweep = add("sweep", help="job-array helper: the number of sweep points of a config, "
                           "or one point as a config of its own")
    sweep.add_argument("action", choices=("points", "point"),
                       help="'points': print how many points; 'point': print point INDEX as TOML")
    sweep.add_argument("config", help="TOML config file of a sweep")
    sweep.add_argument("index", nargs="?", type=int, help="0-based point index (for 'point')")

    add("info", help="versions, MPI, PETSc/SLEPc, parallel HDF5 and compiled kernels")

    show = add("show", help="what a run file holds: provenance, timings, every result with its shape, "
                            "units and values (finished or .partial); a stopped run: its checkpoints")
    show.add_argument("runfile", help="run file (.h5 or .h5.partial) written by hpcx run, or one of its "
                                      "checkpoints (RUN.h5.checkpoint/NAME.h5)")
    show.add_argument("--config", action="store_true", help="also print the config text stored in the file")

    plot = add("plot", help="PNG figures of a run file, written next to it")
    plot.add_argument("runfile", help="finished run file (.h5) written by hpcx run")

    bench = add("bench", help="performance benchmarks (docs/performance.md); never part of the tests")
    bench_sub = bench.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    from .bench import BENCH_MODULES
    from .bench import load as load_bench
    for name in BENCH_MODULES:
        module = load_bench(name)
        one = bench_sub.add_parser(name, parents=[common], help=module.DESCRIPTION,
                                   description=module.DESCRIPTION)
        one.add_argument("--json", metavar="FILE", help="also write the measurements and the machine as JSON")
        module.add_arguments(one)

    scaling = add("scaling", help="table and figure of a scaling study from hpcx bench --json files")
    scaling.add_argument("results", nargs="+", help="JSON files of `hpcx bench NAME --json` on several rank counts")
    scaling.add_argument("-o", "--output", default="scaling", help="output stem: STEM.md and STEM.png")
    scaling.add_argument("--weak", action="store_true", help="weak scaling (the problem grows with the ranks)")

    docs = add("config-docs", help="print the config reference (docs/config.md)")
    docs.add_argument("-o", "--output", help="write to this file instead of stdout")
    return parser


def cmd_run(args, comm):
    from . import api
    from .log import setup_logging

    setup_logging(comm, "DEBUG" if args.debug else "INFO")
    output = Path(args.output) if args.output else Path(Path(args.config).stem + ".h5")
    api.run(args.config, output, comm=comm, overwrite=args.overwrite, log_level="DEBUG" if args.debug else None)
    return 0


def cmd_validate(args, comm):
    from . import api, workflows
    from .resources import gib
    cfg, params = api.validate(args.config, comm=comm)
    estimator = getattr(workflows.load(cfg.workflow), "estimate_memory", None)
    memory = "" if estimator is None else (
        f"; memory estimate {gib(int(estimator(params, comm.size)))} per rank on {comm.size} rank(s), "
        f"besides the interpreter (checked against the job's limit by hpcx run)")
    if comm.rank == 0:
        print(f"{args.config}: valid '{cfg.workflow}' config{memory}")
    return 0


def cmd_sweep(args, comm):
    from . import api
    if args.action == "points":
        text = str(api.sweep_points(args.config, comm=comm))
    else:
        if args.index is None:
            from .errors import ConfigError
            raise ConfigError(args.config, "", "hpcx sweep point needs INDEX (0-based)")
        text = api.point_config(args.config, args.index, comm=comm).rstrip("\n")
    if comm.rank == 0:
        print(text)
    return 0


def cmd_info(args, comm):
    from .info import collect_info, plain
    items = collect_info(comm)
    if comm.rank == 0:
        width = max(len(k) for k, _ in items)
        for key, value in items:
            print(f"{plain(key):<{width}}  {plain(value)}")
    return 0


def cmd_show(args, comm):
    from .summary import describe
    if comm.rank == 0:
        print("\n".join(describe(args.runfile, show_config=args.config)))
    return 0


def cmd_plot(args, comm):
    from .plotting import plot_run
    if comm.rank == 0:
        for path in plot_run(args.runfile):
            print(path)
    return 0


def cmd_bench(args, comm):
    from . import bench
    from .log import setup_logging
    setup_logging(comm, "DEBUG" if args.debug else "INFO")
    result = bench.load(args.benchmark).run(args, comm)
    if args.json:
        bench.write_json(args.json, args.benchmark, result, comm)
        if comm.rank == 0:
            print(f"wrote {args.json}")
    return 0


def cmd_scaling(args, comm):
    from .scaling import report
    if comm.rank == 0:
        for path in report(args.results, args.output, "weak" if args.weak else "strong"):
            print(path)
    return 0


def cmd_config_docs(args, comm):
    from . import workflows
    from .config import render_markdown
    text = render_markdown(workflows.schemas())
    if comm.rank == 0:
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
    return 0


COMMANDS = {"run": cmd_run, "validate": cmd_validate, "sweep": cmd_sweep, "info": cmd_info,
            "show": cmd_show, "plot": cmd_plot, "bench": cmd_bench, "scaling": cmd_scaling,
            "config-docs": cmd_config_docs}


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from .errors import HpcxError, error_line, print_line
    from .parallel import abort, get_comm
    from .stopping import disable_petsc_signal_handler

    disable_petsc_signal_handler()
    try:
        faulthandler.enable()       # a crash in compiled code still names the Python line
    except (AttributeError, ValueError, OSError):
        pass                        # stderr without a file descriptor (captured by a test harness)
    comm = get_comm()
    try:
        return COMMANDS[args.command](args, comm)
    except KeyboardInterrupt as exc:
        return _interrupted(exc, comm)
    except BrokenPipeError:         # `hpcx info | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - the one place errors become exit codes
        user_error = isinstance(exc, HpcxError)
        collective = getattr(exc, "collective", False) or comm.size == 1
        if args.debug:
            traceback.print_exc()
        if comm.rank == 0 or not collective:
            hint = "" if user_error or args.debug else " (rerun with --debug for a traceback)"
            print_line(error_line(exc, None if collective else comm.rank) + hint)
        code = getattr(exc, "exit_code", EXIT_USER_ERROR) if user_error else EXIT_INTERNAL_ERROR
        if not collective:
            # Only some ranks failed: the others may be waiting in a collective call.
            abort(comm, code)
        return code


def _interrupted(exc, comm):
    """A signal stopped the run before a safe point (hpcx.stopping.Interrupted) or Ctrl-C."""
    from .errors import print_line
    from .parallel import abort
    code = getattr(exc, "exit_code", 130)
    what = str(exc) or "interrupted"
    print_line(f"hpcx: {what} [rank {comm.rank}] outside a safe point: no checkpoint written, a rerun "
               f"starts over (a run file already begun is left as *.partial)")
    if comm.size > 1:
        abort(comm, code)
    return code


if __name__ == "__main__":
    sys.exit(main())
