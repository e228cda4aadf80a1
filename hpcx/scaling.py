"""Scaling studies from ``hpcx bench NAME --json`` files: ``hpcx scaling RESULTS.json...``.

Each JSON file is one benchmark run on some number of ranks.  The timed
quantities in it (:func:`measurements`) are grouped into series, one per
benchmark, quantity and problem size, over the rank counts p:

* strong scaling (the same problem on every p): speed-up
  S(p) = p0 T(p0) / T(p) relative to the smallest rank count p0, parallel
  efficiency E(p) = S(p) / p, and Amdahl's law T(p) = T1 (s + (1 - s) / p)
  fitted for the serial fraction s;
* weak scaling (the problem grows in proportion to p; a series is the i-th
  timed row of every file): scaled speed-up S(p) = p T(p0) / T(p) for p0 = 1,
  efficiency E(p) = T(p0) / T(p), and T(p) = T1 ((1 - s) + s p) (the serial
  part grows with the problem, the parallel part per rank stays) fitted for s.

Both fits are non-negative least squares in the relative residuals, so an
exact Amdahl dataset returns its s.  :func:`projected_time` extends a series
to many ranks with the fitted serial fraction plus a latency-bandwidth model
of the benchmark's collective communication (:data:`COMMUNICATION`,
docs/performance.md "Scaling").
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError


@dataclass(frozen=True)
class Measurement:
    """One timed quantity of one benchmark run: wall seconds on ``ranks`` MPI ranks.

    ``size`` is the problem size the quantity refers to (BSE dimension N, number
    of states, particles); ``row`` the index of the timed row within its file;
    ``extra`` the numbers the communication model needs (samples, products, ...).
    """

    benchmark: str
    quantity: str
    size: int
    ranks: int
    seconds: float
    row: int = 0
    source: str = ""
    extra: tuple = ()


def _transport(result):
    loop = result.get("loop") or {}
    if "t_n" not in loop:
        return []
    return [("transport", "ensemble loop", int(loop.get("particles", 0)), float(loop["t_n"]),
             (("samples", loop.get("samples", 0)), ("states", result.get("states", 0))))]


def _scattering(result):
    return [("scattering", "table build", int(r["N"]), float(r["total"]),
             (("iterations", r.get("iterations", 0)), ("nnz", r.get("nnz", 0))))
            for r in result.get("rows", []) if "total" in r]


def _bse(result):
    out = []
    for r in result.get("rows", []):
        n = int(r["N"])
        if "t_product_s" in r:                       # --matrix-free
            out.append(("bse --matrix-free", "product", n, float(r["t_product_s"]), (("products", 1),)))
            if "t_solve_s" in r:
                out.append(("bse --matrix-free", "eigensolve", n, float(r["t_solve_s"]),
                            (("products", r.get("products", 0)),)))
            continue
        case = r.get("case", "")
        out.append(("bse", f"assembly {case}".strip(), n, float(r["assembly_s"]), ()))
        if "slepc_s" in r:
            out.append(("bse", f"eigensolve {case}".strip(), n, float(r["slepc_s"]),
                        (("iterations", r.get("slepc_its", 0)),)))
    return out


EXTRACTORS = {"transport": _transport, "scattering": _scattering, "bse": _bse}


def measurements(payload, source=""):
    """The :class:`Measurement` list of one ``hpcx bench --json`` payload (a dict)."""
    name = payload.get("benchmark")
    if name not in EXTRACTORS:
        raise InputError(f"{source}: benchmark {name!r} has no scaling quantities "
                         f"(known: {', '.join(sorted(EXTRACTORS))})")
    ranks = (payload.get("machine") or {}).get("mpi_ranks")
    if not isinstance(ranks, int) or ranks < 1:
        raise InputError(f"{source}: machine.mpi_ranks missing: not an hpcx bench --json file")
    rows = EXTRACTORS[name](payload.get("result") or {})
    if not rows:
        raise InputError(f"{source}: no timed quantity found in the '{name}' result")
    return [Measurement(b, q, size, ranks, t, i, str(source), extra)
            for i, (b, q, size, t, extra) in enumerate(rows)]


def read(paths):
    """All measurements of the JSON files ``paths``; an unreadable file raises InputError."""
    out = []
    for path in paths:
        try:
            payload = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: not a readable hpcx bench JSON file ({exc})") from None
        out += measurements(payload, path)
    return out


# ----------------------------------------------------------------------------- series and fits
@dataclass(frozen=True)
class Series:
    """One quantity over rank counts: ``ranks`` (n,) int ascending, ``seconds`` (n,), ``sizes`` (n,)."""

    benchmark: str
    quantity: str
    mode: str                # "strong" or "weak"
    ranks: np.ndarray
    seconds: np.ndarray
    sizes: np.ndarray
    extra: dict

    @property
    def label(self):
        size = f"N = {self.sizes[0]}" if self.mode == "strong" else f"N/p = {self.sizes[0] // self.ranks[0]}"
        return f"{self.benchmark}: {self.quantity}, {size}"

    def speedup(self):
        """Strong: p0 T(p0) / T(p); weak (scaled): p T(p0) / (p0 T(p))."""
        p0, t0 = self.ranks[0], self.seconds[0]
        if self.mode == "strong":
            return p0 * t0 / self.seconds
        return self.ranks * t0 / (p0 * self.seconds)

    def efficiency(self):
        return self.speedup() / self.ranks

    def fit(self):
        """(T1, s): Amdahl (strong) or the growing-serial-part model (weak), see the module doc."""
        return (amdahl_fit if self.mode == "strong" else weak_fit)(self.ranks, self.seconds)

    def model(self, ranks):
        """Fitted time (s) at ``ranks``."""
        t1, s = self.fit()
        p = np.asarray(ranks, float)
        return t1 * (s + (1.0 - s) / p) if self.mode == "strong" else t1 * ((1.0 - s) + s * p)


def series(items, mode="strong"):
    """Group measurements into :class:`Series` (strong: by benchmark, quantity and size; weak: by
    benchmark, quantity and row); a rank count measured twice keeps its fastest time."""
    if mode not in ("strong", "weak"):
        raise ValueError(f"mode must be 'strong' or 'weak', not {mode!r}")
    groups = {}
    for m in items:
        key = (m.benchmark, m.quantity, m.size if mode == "strong" else m.row)
        best = groups.setdefault(key, {})
        if m.ranks not in best or m.seconds < best[m.ranks].seconds:
            best[m.ranks] = m
    out = []
    for (bench, quantity, _), by_rank in sorted(groups.items(), key=lambda kv: tuple(map(str, kv[0]))):
        ms = [by_rank[p] for p in sorted(by_rank)]
        out.append(Series(bench, quantity, mode, np.array([m.ranks for m in ms]),
                          np.array([m.seconds for m in ms], float), np.array([m.size for m in ms]),
                          dict(ms[0].extra)))
    return out


def _nnls_fit(columns, seconds):
    """Non-negative (a, b) minimising sum ((a c0 + b c1 - T) / T)^2."""
    from scipy.optimize import nnls
    t = np.asarray(seconds, float)
    A = np.column_stack(columns) / t[:, None]
    coef, _ = nnls(A, np.ones_like(t))
    return coef


def amdahl_fit(ranks, seconds):
    """(T1 in s, serial fraction s) of T(p) = T1 (s + (1 - s) / p), fitted to times (s) at ranks."""
    p = np.asarray(ranks, float)
    if p.size < 2 or np.unique(p).size < 2:
        raise ValueError("an Amdahl fit needs times at two or more rank counts")
    a, b = _nnls_fit([np.ones_like(p), 1.0 / p], seconds)
    return float(a + b), float(a / (a + b)) if a + b > 0 else 0.0


def weak_fit(ranks, seconds):
    """(T1 in s, serial fraction s) of T(p) = T1 ((1 - s) + s p) for a problem growing with p."""
    p = np.asarray(ranks, float)
    if p.size < 2 or np.unique(p).size < 2:
        raise ValueError("a weak-scaling fit needs times at two or more rank counts")
    a, b = _nnls_fit([np.ones_like(p), p], seconds)
    return float(a + b), float(b / (a + b)) if a + b > 0 else 0.0


# ----------------------------------------------------------------------------- table and figure
def _g(x, digits=3):
    return f"{x:.{digits}g}"


def markdown_table(all_series):
    """A Markdown table: one row per series and rank count; the fit on each series' first row."""
    mode = all_series[0].mode if all_series else "strong"
    fit_name = "Amdahl serial fraction s" if mode == "strong" else "serial fraction s (weak)"
    head = ["benchmark", "quantity", "N", "ranks", "time (s)",
            "speed-up" if mode == "strong" else "scaled speed-up", "efficiency", fit_name]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for s in all_series:
        fit = s.fit() if s.ranks.size > 1 else None
        for i, (p, t, n, sp, eff) in enumerate(zip(s.ranks, s.seconds, s.sizes, s.speedup(), s.efficiency())):
            frac = f"{fit[1]:.3f}" if (fit and i == 0) else ""
            lines.append(f"| {s.benchmark} | {s.quantity} | {n} | {p} | {_g(t, 4)} | {_g(sp)} | "
                         f"{eff:.2f} | {frac} |")
    return "\n".join(lines) + "\n"


def figure(all_series, stem):
    """Time, speed-up and parallel efficiency vs ranks with the ideal line and the fitted model;
    writes ``<stem>.png`` (hpcx.plotting.save) and returns its path."""
    from .plotting import pyplot, save
    plt = pyplot()
    fig, (ax_t, ax_s, ax_e) = plt.subplots(1, 3, figsize=(15, 4.6))
    p_max = max(int(s.ranks.max()) for s in all_series)
    p_min = min(int(s.ranks.min()) for s in all_series)
    fine = np.geomspace(p_min, max(p_max, p_min + 1), 60)
    weak = all_series[0].mode == "weak"
    fit_name = "fit" if weak else "Amdahl fit"
    for k, s in enumerate(all_series):
        color = f"C{k % 10}"
        fit = s.fit() if s.ranks.size > 1 else None
        fit_label = f"{fit_name}, s = {fit[1]:.3f}" if fit else None
        ax_t.plot(s.ranks, s.seconds, "o-", color=color, label=s.label)
        ideal_t = s.seconds[0] * np.ones_like(fine) if weak else s.seconds[0] * s.ranks[0] / fine
        ax_t.plot(fine, ideal_t, ":", color=color, label=f"ideal ({s.quantity})")
        ax_s.plot(s.ranks, s.speedup(), "o-", color=color, label=s.label)
        ax_e.plot(s.ranks, s.efficiency(), "o-", color=color, label=s.label)
        if fit:
            model, m0 = s.model(fine), s.model([s.ranks[0]])[0]
            speed = fine * m0 / (s.ranks[0] * model) if weak else s.ranks[0] * m0 / model
            ax_t.plot(fine, model, "--", color=color, label=fit_label)
            ax_s.plot(fine, speed, "--", color=color, label=fit_label)
            ax_e.plot(fine, speed / fine, "--", color=color, label=fit_label)
    ax_s.plot(fine, fine, "k:", label="ideal")
    ax_e.plot(fine, np.ones_like(fine), "k:", label="ideal")
    ax_t.set(xscale="log", yscale="log", xlabel="MPI ranks p", ylabel="wall time T (s)",
             title="time" + (" (weak scaling)" if weak else " (strong scaling)"))
    ax_s.set(xscale="log", yscale="log", xlabel="MPI ranks p",
             ylabel="scaled speed-up p T(1) / T(p)" if weak else "speed-up S = p0 T(p0) / T(p)", title="speed-up")
    ax_e.set(xscale="log", xlabel="MPI ranks p", ylabel="parallel efficiency E = S / p",
             ylim=(0.0, 1.15), title="parallel efficiency")
    from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter
    measured = sorted({int(p) for s in all_series for p in s.ranks})
    for ax in (ax_t, ax_s, ax_e):
        ax.xaxis.set_major_locator(FixedLocator(measured))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=7)
    return save(fig, stem)


# ----------------------------------------------------------------------------- projection
#: Collective communication per run of each timed quantity: (collective, bytes per call as a
#: function of the series' size N and extra numbers, calls per run).  Volumes come from the
#: algorithms (docs/performance.md "Scaling"); the network constants are NETWORK.
COMMUNICATION = {
    ("transport", "ensemble loop"): ("allreduce", lambda n, x: 1.0e5, lambda x: x.get("samples", 1)),
    ("scattering", "table build"): ("allgather", lambda n, x: 8.0 * n, lambda x: max(1, x.get("iterations", 1))),
    ("bse --matrix-free", "product"): ("alltoall", lambda n, x: 2 * 72.0 * n, lambda x: 1),
    ("bse --matrix-free", "eigensolve"): ("alltoall", lambda n, x: 2 * 72.0 * n,
                                          lambda x: max(1, x.get("products", 1))),
}

#: ASSUMED latency (s) and inverse bandwidth (s/byte) of an inter-node network (InfiniBand HDR
#: class: 2 us, 12 GB/s per rank pair); docs/performance.md shows the sensitivity.
NETWORK = {"alpha": 2.0e-6, "beta": 1.0 / 12.0e9}


def collective_seconds(kind, nbytes, ranks, alpha, beta):
    """Latency-bandwidth time (s) of one collective on ``ranks`` ranks moving ``nbytes`` in total.

    allreduce (Rabenseifner): 2 log2 p alpha + 2 (p-1)/p n beta;
    allgather (recursive doubling): log2 p alpha + (p-1)/p n beta;
    alltoall (pairwise): (p-1) alpha + (p-1)/p (n/p) beta per rank.
    """
    p = float(ranks)
    if p <= 1:
        return 0.0
    log_p, spread = math.ceil(math.log2(p)), (p - 1.0) / p
    if kind == "allreduce":
        return 2 * log_p * alpha + 2 * spread * nbytes * beta
    if kind == "allgather":
        return log_p * alpha + spread * nbytes * beta
    if kind == "alltoall":
        return (p - 1) * alpha + spread * (nbytes / p) * beta
    raise ValueError(f"unknown collective {kind!r}")


def projected_time(s, ranks, network=None):
    """Projected wall time (s) of a strong-scaling series at ``ranks`` (sequence of int).

    T(p) = T1 (s' + (1 - s') / p) + calls x collective(p): T1 and s from the
    measured Amdahl fit, the modelled communication of the measured rank counts
    removed from the serial part first (s' >= 0), so communication is not
    counted twice; quantities without a model in COMMUNICATION keep pure Amdahl.
    """
    network = {**NETWORK, **(network or {})}
    t1, frac = s.fit()
    comm = COMMUNICATION.get((s.benchmark, s.quantity))

    def comm_time(p):
        if comm is None:
            return 0.0
        kind, volume, calls = comm
        return calls(s.extra) * collective_seconds(kind, volume(int(s.sizes[0]), s.extra), p,
                                                   network["alpha"], network["beta"])
    if comm is not None:
        # the measured times hold the communication at their rank counts: refit without it
        t1, frac = amdahl_fit(s.ranks, np.maximum(s.seconds - [comm_time(p) for p in s.ranks], 1e-12))
    return np.array([t1 * (frac + (1.0 - frac) / p) + comm_time(p) for p in ranks])


def projection_table(all_series, ranks=(64, 128, 256, 512, 1024), network=None):
    """Markdown: projected time and efficiency (vs the measured p0 T(p0)) of each strong series."""
    head = ["benchmark", "quantity", "N"] + [f"p = {p}" for p in ranks]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for s in all_series:
        if s.mode != "strong" or s.ranks.size < 2:
            continue
        t = projected_time(s, ranks, network)
        eff = s.ranks[0] * s.seconds[0] / (np.asarray(ranks) * t)
        cells = [f"{_g(ti)} s ({e:.2f})" for ti, e in zip(t, eff)]
        lines.append(f"| {s.benchmark} | {s.quantity} | {s.sizes[0]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def report(paths, stem, mode="strong", project=(64, 128, 256, 512, 1024)):
    """Read JSON files, write ``<stem>.md`` (table, projection) and ``<stem>.png``; returns both paths."""
    all_series = series(read(paths), mode)
    if not all_series:
        raise InputError("no measurements in " + ", ".join(map(str, paths)))
    text = [f"# Scaling ({mode}): {len(paths)} file(s)\n", markdown_table(all_series)]
    if mode == "strong" and project and any(s.ranks.size > 1 for s in all_series):
        text += [f"\nProjected time (efficiency) at more ranks (hpcx.scaling.projected_time; network "
                 f"alpha = {NETWORK['alpha'] * 1e6:g} us, 1/beta = {1e-9 / NETWORK['beta']:g} GB/s):\n\n",
                 projection_table(all_series, project)]
    md = Path(f"{stem}.md")
    md.write_text("".join(text), encoding="utf-8")
    png = figure(all_series, stem)
    return md, png
