"""The per-temperature checkpoint format shared by the ``valley`` phases that keep whole
temperatures (moments, Monte Carlo): group ``temperatures/<i>/`` with ``T`` and the fields of
one temperature's result."""

from __future__ import annotations


def temperature_tree(done, fields):
    """{"temperatures": {"<i>": {"T": T, **fields(value)}}} of ``done`` ({T: value})."""
    return {"temperatures": {str(i): {"T": T, **fields(value)} for i, (T, value) in enumerate(done.items())}}


def load_temperatures(store, temperatures, restore, log, what):
    """{T: restore(entry)} of the checkpoint's temperatures that belong to ``temperatures``; {}
    without a checkpoint (or without an output path: ``store`` None).  Logs how many were taken."""
    state = store.load() if store is not None else None
    if not state:
        return {}
    wanted, done = set(temperatures), {}
    for entry in state["temperatures"].values():
        T = float(entry["T"])
        if T in wanted:
            done[T] = restore(entry)
    log.info("%s: %d of %d temperatures taken from the checkpoint %s", what, len(done), len(temperatures),
             store.path)
    return done
