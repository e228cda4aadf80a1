"""A plain-text summary of a run file (``hpcx show``): provenance, phase timings and every
``/results`` dataset with its shape and units, and the values of scalars, labels and short
vectors.  Reads finished and unfinished (``.partial``) files alike and says which it is, and
whether a checkpoint directory of the run is waiting for a rerun, with what each checkpoint
holds.  A run that stopped before writing anything (exit 75), or is still running, is shown
by its checkpoints; so is a single checkpoint file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .io import PARTIAL_SUFFIX, RunFile

__all__ = ["describe"]


def describe(path, show_config: bool = False, max_values: int = 6) -> list[str]:
    """The summary of run file ``path`` as lines of text (of its checkpoints when only they
    exist, or of one checkpoint file); raises :class:`hpcx.errors.InputError` for a missing,
    unreadable or foreign file.  ``max_values``: arrays with at most this many
    elements are printed in full, longer ones by their range."""
    checkpoint = _checkpoint_only(Path(path))
    if checkpoint is not None:
        return checkpoint
    with RunFile(path, allow_partial=True) as run:
        lines = _provenance(run)
        lines += _timings(run)
        lines += _results(run, max_values)
        if show_config:
            lines += ["", f"config ({run.file['config'].attrs.get('source', '')}):", run.config_text.rstrip("\n")]
    return lines


def _text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return ", ".join(_text(v) for v in value.tolist())
    return str(value)


def _provenance(run):
    a = run.attrs
    finished = _text(a.get("finished", ""))
    path = Path(run.path)
    if path.name.endswith(PARTIAL_SUFFIX) or not finished:
        status = "UNFINISHED (the run failed, was killed or is still writing; results may be incomplete)"
        final = Path(str(path).removesuffix(PARTIAL_SUFFIX))
    else:
        status = f"finished {finished}"
        final = path
    lines = [f"{path}: '{run.workflow}' run, {status}",
             f"  started     {_text(a.get('created', ''))} on {_text(a.get('mpi_size', '?'))} rank(s), "
             f"host(s) {_text(a.get('hostnames', ''))}",
             f"  hpcx        {_text(a.get('hpcx_version', ''))} (git {_text(a.get('git_commit', ''))}), "
             f"format {_text(a.get('format_version', ''))}",
             f"  command     {_text(a.get('command_line', ''))}",
             f"  config      {_text(run.file['config'].attrs.get('source', ''))} (the text: hpcx show --config)"]
    return lines + _checkpoint_lines(Path(str(final) + ".checkpoint"))


def _checkpoint_only(path):
    """Lines for a run known only by its checkpoints (no run file, no .partial) or for one
    checkpoint file; None when ``path`` is something else."""
    directory = Path(str(path) + ".checkpoint")
    if not path.exists() and not Path(str(path) + PARTIAL_SUFFIX).exists() and directory.is_dir():
        return [f"{path}: not written yet: the run stopped before its end (exit 75 at a checkpoint, or a "
                f"failure) or is still running",
                *_checkpoint_lines(directory)]
    if path.is_file() and path.parent.name.endswith(".checkpoint"):
        return [f"{path}: a checkpoint of the run {str(path.parent).removesuffix('.checkpoint')}",
                _checkpoint_entry(path)]
    return None


def _checkpoint_lines(directory):
    """The checkpoint directory's files, each with when it was written and what it holds."""
    if not directory.is_dir():
        return []
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix == ".h5")    # not *.h5.tmp
    return ([f"  checkpoint  {directory}/ ({len(files) or 'no'} file(s)): the same command continues the run"]
            + [_checkpoint_entry(p) for p in files])


def _checkpoint_entry(path):
    import h5py
    try:
        with h5py.File(path, "r") as f:
            written, what = _text(f.attrs.get("written", "")), _text(f.attrs.get("hpcx_checkpoint", ""))
    except OSError as exc:
        return f"    {path.name}: unreadable ({exc}); the rerun moves it aside and starts that part afresh"
    return f"    {path.name}: written {written or '?'}: {what or '(no description)'}"


def _timings(run):
    if "timings" not in run.file:
        return []
    items = [(name, float(ds[()])) for name, ds in run.file["timings"].items()]
    items.sort(key=lambda item: -item[1])
    body = ", ".join(f"{name} {seconds:.3g}" for name, seconds in items)
    return [f"timings (s, max over ranks): {body}"]


def _results(run, max_values):
    if "results" not in run.file:
        return ["results: none written"]
    entries = []
    run.file["results"].visititems(lambda name, obj: entries.append(name) if hasattr(obj, "shape") else None)
    lines = [f"results (/results, {len(entries)} datasets):"]
    width = max((len(name) for name in entries), default=0)
    for name in entries:
        data, units = run.read(f"results/{name}")
        lines.append(f"  {name:<{width}}  {_shape(data):<14} {units or '-':<16} {_values(data, max_values)}".rstrip())
    return lines


def _shape(data):
    data = np.asarray(data)
    return "scalar" if data.ndim == 0 else "[" + ", ".join(str(n) for n in data.shape) + "]"


def _values(data, max_values):
    data = np.asarray(data)
    if data.dtype.kind in "US":
        flat = [str(v) for v in data.reshape(-1)[:max_values]]
        more = f", ... ({data.size} labels)" if data.size > max_values else ""
        return "= " + ", ".join(flat) + more
    if data.dtype.kind not in "biufc" or data.size == 0:
        return ""
    if data.size <= max_values:
        return "= " + (_number(data.item()) if data.ndim == 0 else ", ".join(_number(v) for v in data.reshape(-1)))
    finite = data[np.isfinite(data)] if data.dtype.kind in "fc" else data
    if finite.size == 0:
        return "all NaN"
    if finite.dtype.kind == "c":
        return f"|.| in [{_number(np.abs(finite).min())}, {_number(np.abs(finite).max())}]"
    return f"in [{_number(finite.min())}, {_number(finite.max())}]"


def _number(value):
    if isinstance(value, (complex, np.complexfloating)):
        return f"{value:.6g}"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return str(value)
