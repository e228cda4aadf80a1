"""The ``hpcx`` command: run | validate | info | plot | bench | config-docs.

Errors a user can fix are printed as one line from rank 0 with a non-zero
exit code; ``--debug`` adds the traceback.  An error raised on only some MPI
ranks aborts the communicator with that message, so no rank hangs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 1


def _parser():
    parser = argparse.ArgumentParser(
        prog="hpcx", description="MPI-parallel exciton physics in 2D semiconductors and moiré heterostructures.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug log lines")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the workflow a config file describes")
    run.add_argument("config", help="TOML config file")
    run.add_argument("-o", "--output", help="run file to write (default: CONFIG's stem + .h5 in the current directory)")
    run.add_argument("--overwrite", action="store_true", help="replace an existing output file")

    validate = sub.add_parser("validate", help="check a config file without running it")
    validate.add_argument("config")

    sub.add_parser("info", help="versions, MPI, PETSc/SLEPc, parallel HDF5 and compiled kernels")

    plot = sub.add_parser("plot", help="PNG figures of a run file, written next to it")
    plot.add_argument("runfile")

    bench = sub.add_parser("bench", help="performance benchmarks (docs/performance.md); never part of the tests")
    bench_sub = bench.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    from .bench import BENCH_MODULES, load as load_bench
    for name in BENCH_MODULES:
        module = load_bench(name)
        one = bench_sub.add_parser(name, help=module.DESCRIPTION, description=module.DESCRIPTION)
        one.add_argument("--json", metavar="FILE", help="also write the measurements and the machine as JSON")
        module.add_arguments(one)

    docs = sub.add_parser("config-docs", help="print the config reference (docs/config.md)")
    docs.add_argument("-o", "--output", help="write to this file instead of stdout")
    return parser


def _prepare_environment():
    # Debian's h5py picks its MPI build only under mpirun unless told otherwise.
    try:
        import mpi4py  # noqa: F401
        os.environ.setdefault("H5PY_ALWAYS_USE_MPI", "1")
    except ImportError:
        pass


def _load_checked_config(path, comm):
    from . import workflows
    from .config import read_config_text, validate
    from .parallel import all_or_none, on_root

    text = on_root(read_config_text, comm, path)
    with all_or_none(comm):
        cfg = validate(text, path, workflows.schemas())
        workflows.load(cfg.workflow).check(cfg)
    return cfg


def cmd_run(args, comm):
    from . import workflows
    from .io import RunWriter
    from .log import PhaseTimer, get_logger, setup_logging

    setup_logging(comm, "DEBUG" if args.debug else "INFO")
    cfg = _load_checked_config(args.config, comm)
    logger = setup_logging(comm, "DEBUG" if args.debug else cfg.run.log_level)
    output = Path(args.output) if args.output else Path(Path(args.config).stem + ".h5")
    logger.info("hpcx run: workflow %s, config %s, %d rank(s), output %s",
                cfg.workflow, args.config, comm.size, output)
    start = time.perf_counter()
    timer = PhaseTimer()
    with RunWriter(output, comm, workflow=cfg.workflow, config_text=cfg.text,
                   config_source=args.config, overwrite=args.overwrite) as writer:
        workflows.load(cfg.workflow).run(cfg, writer, comm, timer)
        final = writer.finish(timer.seconds)
    wall = time.perf_counter() - start
    logger.info("finished: %s (%.2f s wall, %.4f cpu-hours on %d rank(s))",
                final, wall, wall * comm.size / 3600.0, comm.size)
    for phase, seconds in writer.timings.items():
        logger.info("  timing %-24s %10.3f s", phase, seconds)
    return 0


def cmd_validate(args, comm):
    cfg = _load_checked_config(args.config, comm)
    if comm.rank == 0:
        print(f"{args.config}: valid '{cfg.workflow}' config")
    return 0


def cmd_info(args, comm):
    from .info import collect_info
    items = collect_info(comm)
    if comm.rank == 0:
        width = max(len(k) for k, _ in items)
        for key, value in items:
            print(f"{key:<{width}}  {value}")
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


COMMANDS = {"run": cmd_run, "validate": cmd_validate, "info": cmd_info,
            "plot": cmd_plot, "bench": cmd_bench, "config-docs": cmd_config_docs}


def main(argv=None):
    args = _parser().parse_args(argv)
    _prepare_environment()
    from .errors import HpcxError
    from .parallel import get_comm

    comm = get_comm()
    try:
        return COMMANDS[args.command](args, comm)
    except KeyboardInterrupt:
        if comm.rank == 0:
            print("hpcx: interrupted; any output was left as *.partial", file=sys.stderr)
        if comm.size > 1:
            comm.Abort(130)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place errors become exit codes
        user_error = isinstance(exc, HpcxError)
        collective = getattr(exc, "collective", False) or comm.size == 1
        if args.debug:
            traceback.print_exc()
        if comm.rank == 0 or not collective:
            prefix = "hpcx: error: " if user_error else "hpcx: internal error: "
            where = f"[rank {comm.rank}] " if not collective else ""
            hint = "" if user_error or args.debug else " (rerun with --debug for a traceback)"
            detail = str(exc) if user_error else f"{type(exc).__name__}: {exc}"
            print(f"{prefix}{where}{detail}{hint}", file=sys.stderr, flush=True)
        code = EXIT_USER_ERROR if user_error else EXIT_INTERNAL_ERROR
        if not collective:
            # Only some ranks failed: the others may be waiting in a collective call.
            comm.Abort(code)
        return code


if __name__ == "__main__":
    sys.exit(main())
