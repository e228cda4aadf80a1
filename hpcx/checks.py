"""Checks of values that pass the schema but would give a wrong result, with one clear message.

For a workflow's ``schema.params`` (raising :class:`~hpcx.errors.ConfigError`
naming the file and key):

- :func:`require_interval` -- ``low < high`` for a pair of keys (an inverted
  window is refused, never silently swapped);
- :func:`require_at_least` -- a physical validity bound the schema's plain
  range cannot express (e.g. a temperature below which a model's occupation
  factors underflow);

for readers of input files (raising :class:`~hpcx.errors.InputError` naming
the file and line):

- :func:`require_finite` -- no NaN or infinity among numbers read from a file;

and for computations:

- :func:`numerical_errors` -- a block in which NumPy's floating-point
  warnings (invalid value, division by zero, overflow) raise
  :class:`~hpcx.errors.NumericalError` instead of quietly producing NaN;
- :func:`warnings_to_log` -- what :func:`hpcx.api.run` wraps a run in:
  every other Python warning becomes one hpcx log line instead of a raw
  two-line ``RuntimeWarning`` on stderr.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from pathlib import Path

import numpy as np

from .errors import ConfigError, InputError, NumericalError


def require_interval(source, low_key, low, high_key, high, unit=""):
    """Raise ConfigError unless ``low < high`` (an interval given as two keys)."""
    if not low < high:
        unit = f" {unit}" if unit else ""
        raise ConfigError(source, high_key, f"{high!r}{unit} must be larger than {low_key} = {low!r}{unit} "
                                            f"(the interval [{low_key}, {high_key}] is empty or inverted)")


def require_at_least(source, key, value, minimum, reason, unit=""):
    """Raise ConfigError if ``value`` (a number or a list of numbers) has an entry below ``minimum``.

    ``reason`` says why the model is not valid there, e.g. "the phonon
    occupation 1/(exp(E/kT) - 1) underflows below 1 K".
    """
    values = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value]
    for i, v in enumerate(values):
        if v < minimum:
            where = f"{key}[{i}]" if len(values) > 1 or isinstance(value, (list, tuple, np.ndarray)) else key
            unit_text = f" {unit}" if unit else ""
            raise ConfigError(source, where, f"{v!r}{unit_text} is below the model's validity "
                                             f"(>= {minimum:g}{unit_text}: {reason})")


def require_finite(values, path, what="number", line_of=None):
    """Raise InputError naming ``path`` and the line of the first NaN or infinity in ``values``.

    ``values`` is an array read from ``path``; ``line_of(index)`` maps the
    index of a row (axis 0) to its 1-based line in the file (default: none,
    the row index is named instead).
    """
    arr = np.asarray(values)
    if arr.dtype.kind not in "fc" or np.all(np.isfinite(arr)):
        return
    bad = tuple(int(b) for b in np.argwhere(~np.isfinite(arr))[0]) if arr.ndim else ()
    value = arr[bad]
    if line_of is not None and bad:
        raise InputError(f"{Path(path)}:{line_of(bad[0])}: non-finite {what} ({value})")
    raise InputError(f"{Path(path)}: entry {bad}: non-finite {what} ({value})")


_FP_WHAT = {"invalid": "an invalid operation (0/0, inf-inf, sqrt or log of a negative number) gave NaN",
            "divide": "a division by zero gave an infinity",
            "overflow": "a number overflowed to infinity"}


@contextlib.contextmanager
def numerical_errors(what, invalid=True, divide=True, overflow=True):
    """Raise :class:`NumericalError` naming ``what`` when NumPy meets an invalid FP operation.

    Use around a computation where a NaN or infinity means a wrong result
    (a fit, a normalisation, an occupation factor), e.g.::

        with numerical_errors("diffusion fit of the variance"):
            slope = np.polyfit(t, var, 1)[0]
    """
    settings = {k: "raise" for k, on in (("invalid", invalid), ("divide", divide),
                                         ("over", overflow)) if on}
    try:
        with np.errstate(**settings):
            yield
    except FloatingPointError as exc:
        text = str(exc)
        kind = next((k for k in _FP_WHAT if k[:4] in text), "invalid")
        raise NumericalError(f"{what}: {_FP_WHAT[kind]} ({text})") from None


def require_finite_result(values, what):
    """Raise NumericalError if a computed array (a result) holds NaN or infinity."""
    arr = np.asarray(values)
    if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
        n = int(np.count_nonzero(~np.isfinite(arr)))
        raise NumericalError(f"{what}: {n} of {arr.size} values are not finite")


@contextlib.contextmanager
def warnings_to_log(log):
    """Log each distinct warning raised in the block once, as one line naming where it arose."""
    seen = set()

    def show(message, category, filename, lineno, file=None, line=None):
        key = (category, str(message), filename, lineno)
        if key in seen:
            return
        seen.add(key)
        log.warning("%s: %s (at %s:%d)", category.__name__, message, _short(filename), lineno)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = show
        yield


def _short(filename):
    parts = Path(filename).parts
    return "/".join(parts[parts.index("hpcx"):]) if "hpcx" in parts else filename


def finite_number(text, path, line, what="number"):
    """``float(text)`` for a number read at ``path``:``line``; InputError if unparsable or not finite."""
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{path}:{line}: {what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(f"{path}:{line}: non-finite {what} ({text})")
    return value
