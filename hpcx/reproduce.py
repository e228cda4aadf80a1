"""Reproducible results pages: the runs, figures and tables of ``docs/results/<topic>.md``.

Each results page has a script beside it, ``docs/results/<topic>/reproduce.py``,
that declares its runs through :func:`hpcx.api.run` (``reuse=True``: a run is
computed once and then read from ``build/results/<topic>/``), draws its
figures into ``docs/results/<topic>/`` and writes the tables the page shows
between markers::

    <!-- table: name -->
    ...generated rows...
    <!-- /table -->

``make figures [TOPIC=...]`` runs the scripts (under mpirun); a smoke-sized
version of each (``--smoke``: small grids, output to a scratch directory, the
page untouched) runs in the test suite.  A script looks like::

    from hpcx.reproduce import Page

    def main(page):
        path = page.run("bands_3deg", {"run": {...}, "moire": {...}})
        ...
        page.figure(fig, "bands")
        page.table("gaps", markdown_rows)

    if __name__ == "__main__":
        Page.main(__file__, main)
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from . import api
from .parallel import broadcast, get_comm

ROOT = Path(__file__).resolve().parents[1]


class Page:
    """One results page: where its runs, figures and tables go, and whether this is a smoke run."""

    def __init__(self, script, *, smoke=False, workdir=None, comm=None):
        self.script = Path(script).resolve()
        self.topic = self.script.parent.name
        self.smoke = smoke
        self.comm = get_comm(comm)
        self.page = self.script.parent.parent / f"{self.topic}.md"
        if workdir is None:
            workdir = ROOT / "build" / "results" / self.topic
            self.figures = self.script.parent
        else:
            self.figures = Path(workdir)
        self.workdir = Path(workdir)
        if self.comm.rank == 0:
            self.workdir.mkdir(parents=True, exist_ok=True)
        broadcast(None, self.comm)
        self.written = []

    @property
    def root(self):
        """True on the rank that draws figures and writes tables."""
        return self.comm.rank == 0

    def pick(self, full, smoke):
        """``smoke`` in a smoke run, else ``full`` (grid sizes, particle numbers, angle lists)."""
        return smoke if self.smoke else full

    def run(self, name, config):
        """Path of run ``name`` of ``config`` (a mapping or a TOML path), computed unless up to date."""
        return api.run(config, self.workdir / f"{name}.h5", comm=self.comm, reuse=True, overwrite=True,
                       source=f"{self.script.name}:{name}")

    def read(self, name):
        """The typed Result of run ``name`` (after :meth:`run`)."""
        return api.read(self.workdir / f"{name}.h5")

    def figure(self, fig, name, dpi=130):
        """Save ``fig`` as ``<name>.png`` beside the script (in the workdir for a smoke run); root only."""
        from .plotting import save
        if not self.root:
            return None
        path = save(fig, self.figures / name, dpi=dpi)
        self.written.append(path)
        return path

    def plot_run(self, name):
        """The workflow's own figures of run ``name`` (``hpcx plot``), as ``<name>_<figure>.png``; root only."""
        from . import workflows
        from .io import RunFile
        if not self.root:
            return []
        with RunFile(self.workdir / f"{name}.h5") as run:
            paths = workflows.load(run.workflow).plot(run, self.figures / name)
        self.written += paths
        return paths

    def table(self, name, markdown):
        """Put ``markdown`` between the page's ``<!-- table: name -->`` markers (smoke: into the workdir)."""
        if not self.root:
            return None
        markdown = markdown.rstrip("\n")
        if self.smoke:
            target = self.workdir / f"{name}.md"
            target.write_text(markdown + "\n", encoding="utf-8")
        else:
            target = self.page
            text = target.read_text(encoding="utf-8")
            pattern = re.compile(rf"(<!-- table: {re.escape(name)} -->\n).*?(<!-- /table -->)", re.S)
            if not pattern.search(text):
                raise KeyError(f"{target}: no '<!-- table: {name} -->' ... '<!-- /table -->' block")
            target.write_text(pattern.sub(lambda m: m.group(1) + markdown + "\n" + m.group(2), text),
                              encoding="utf-8")
        self.written.append(target)
        return target

    @classmethod
    def main(cls, script, body, argv=None):
        """Command line of a reproduce.py: ``[--smoke] [--workdir DIR]``."""
        parser = argparse.ArgumentParser(description=f"reproduce docs/results/{Path(script).parent.name}.md")
        parser.add_argument("--smoke", action="store_true", help="small sizes, output to --workdir only")
        parser.add_argument("--workdir", type=Path, help="where runs (and, with --smoke, figures) go")
        args = parser.parse_args(argv)
        page = cls(script, smoke=args.smoke, workdir=args.workdir)
        body(page)
        if page.root:
            for path in page.written:
                print(path)
        return 0


def markdown_table(header, rows, formats=None):
    """A Markdown table: ``header`` [str], ``rows`` [[value]], optional per-column format specs."""
    formats = formats or [""] * len(header)
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in rows:
        cells = [format(v, f) if f else str(v) for v, f in zip(row, formats)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def topics():
    """Names of the results pages that have a reproduce.py."""
    return sorted(p.parent.name for p in (ROOT / "docs" / "results").glob("*/reproduce.py"))

