"""Phase ``profiles`` of the ``valley`` workflow: the Fourier components of the radial profiles per
(temperature, wavenumber chunk), the items dealt cyclically over ranks in rounds of one item per
rank, and the Hankel transform to N(r).

Checkpoint: after every round the finished items go to
``<output>.checkpoint/valley_profiles.h5``; a stop request (agreed before each round and after the
last) ends the run with exit 75, and the rerun computes only the missing items (without an output
path the run ends at once, exit 128 + signal).  Every item is
computed on one rank alone, so the numbers do not depend on the rank count or on a restart."""

from __future__ import annotations

import numpy as np

from ...io import checkpoint as ck
from ...physics import valley_dynamics as vd
from ...physics.valley_profiles import hankel, k_quadrature
from ...rounds import solve_in_rounds

NAME = "valley_profiles"


def radial_profiles(model, p, s, ctx):
    """(r [nm], {T: (N [group, time, r], eta [group, time, r])}) from the Fourier components."""
    k, w = k_quadrature(8.6 / np.sqrt(p.pulse.width2), p.profile_k_nodes, p.profile_k_panels)
    # temperature-major: a round's items (neighbouring chunks of one temperature) cost about the same
    # (examples/valley.toml on 2 ranks: 58 s; chunk-major rounds 70 s, fixed blocks without rounds 59 s)
    items = [(T, lo) for T in p.temperatures for lo in range(0, len(k), p.profile_chunk)]
    done = _solve_items(model, p, s, ctx, k, w, items)
    r = _radial_grid(k, w, p)
    out = {}
    for T in p.temperatures:
        P = np.concatenate([done[(T, lo)][0] for lo in range(0, len(k), p.profile_chunk)], axis=1)
        Ps = np.concatenate([done[(T, lo)][1] for lo in range(0, len(k), p.profile_chunk)], axis=1)
        N, dN = hankel(k, w, P, r), hankel(k, w, Ps, r)
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.where(P[:, 0] > 0, Ps[:, 0] / P[:, 0], 0.0)                        # [group, time]
        out[T] = (N, dN - c[..., None] * N)
    return r, out


def _solve_items(model, p, s, ctx, k, w, items):
    """{(T, lo): (P, P_scat)} of every item: from the checkpoint, or solved in rounds over ranks."""
    store = ctx.checkpoint(NAME, ck.fingerprint(p))
    done = _load(store, items, ctx)
    todo = [item for item in items if item not in done]
    return solve_in_rounds(todo, lambda item: _solve_item(model, p, s, k, w, item), done, ctx, store=store,
                           tree=lambda done: {"items": _tree(done)}, name="valley profiles", unit="items")


def _solve_item(model, p, s, k, w, item):
    """((T, lo), (P, P_scat)) of the wavenumbers k[lo:lo + chunk] at temperature T."""
    T, lo = item
    sel = slice(lo, lo + p.profile_chunk)
    tr = vd.solve_profiles_at(model, T, s, k[sel], w[sel])
    return (T, lo), (tr.P, tr.P_scat)


def _tree(done):
    return {str(i): {"T": T, "lo": lo, "P": P, "P_scat": Ps} for i, ((T, lo), (P, Ps)) in enumerate(done.items())}


def _load(store, items, ctx):
    """{(T, lo): (P, P_scat)} of the checkpoint's items that belong to ``items``, or {}."""
    state = store.load() if store is not None else None
    if not state:
        return {}
    wanted = set(items)
    done = {}
    for entry in state["items"].values():
        key = (float(entry["T"]), int(entry["lo"]))
        if key in wanted:
            done[key] = (np.asarray(entry["P"]), np.asarray(entry["P_scat"]))
    ctx.log.info("profiles: %d of %d items taken from the checkpoint %s", len(done), len(items), store.path)
    return done


def _radial_grid(k, w, p):
    """Radii (nm) up to 0.8 x the alias radius 2 pi / (largest node spacing) of the k quadrature."""
    spacing = np.max(np.diff(k[1:]))
    return np.linspace(0.0, 0.8 * 2.0 * np.pi / spacing, p.profile_r_points)
