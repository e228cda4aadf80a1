"""Phases of the ``valley`` workflow: model, moments per temperature, profiles per (temperature,
k-chunk), all distributed over ranks in fixed blocks, and optionally the Monte Carlo
(:mod:`.monte_carlo`, particle batches over ranks); results independent of the rank count."""

from __future__ import annotations

import numpy as np

from ...materials import tmd
from ...parallel import allgather_blocks, local_items
from ...physics import valley_dynamics as vd
from ...physics.valley_model import model_from_couplings
from ...physics.valley_profiles import hankel, k_quadrature
from ...units import KB_MEV_PER_K, NM2_PER_PS_IN_CM2_PER_S
from .monte_carlo import monte_carlo
from .result import Result


def settings(p):
    """The :class:`~hpcx.physics.valley_dynamics.Settings` of the parameters."""
    return vd.Settings(t_end=p.times_end, dt=p.dt, dq=p.dq, energy_window_kT=p.energy_window_kT, pulse=p.pulse,
                       radiative_decay=p.radiative_decay, intervalley_off_after=p.intervalley_off_after,
                       profile_dt=p.profile_dt, profile_dq=p.profile_dq, profile_harmonics=p.profile_harmonics,
                       profile_chunk=p.profile_chunk)


def build_model(p, log):
    """The valley model of the parameters, with the Wannier 1s form factor of the KK exciton."""
    kk = p.couplings.valleys[p.valleys[0] if "KK" not in p.valleys else "KK"]
    F, eb = vd.wannier_form_factor(tmd(p.material), p.environment, kk.m_e, kk.m_h)
    log.info("%s between %s: 1s binding energy %.1f meV (form factor of every valley)",
             p.material, p.environment.name, eb)
    model = model_from_couplings(p.couplings, p.phonons, F, valleys=p.valleys, acoustic_split=p.acoustic_split)
    return model.scaled(p.scale_intravalley, p.scale_intervalley), eb


def run(p, ctx):
    """Solve the valley-resolved dynamics of every temperature of ``p`` (a :class:`~.schema.Params`)."""
    with ctx.phase("setup"):
        model, eb = build_model(p, ctx.log)
        s = settings(p)
        ctx.log.info("%d valleys (%s), %d temperatures, %d output times on %d rank(s)", len(p.valleys),
                     ", ".join(p.valleys), len(p.temperatures), p.n_times, ctx.comm.size)
    with ctx.phase("moments"):
        moments = _moments(model, p, s, ctx)
    profiles = None
    if p.profiles:
        with ctx.phase("profiles"):
            profiles = _profiles(model, p, s, ctx)
    mc = None
    if p.mc is not None:
        with ctx.phase("monte_carlo"):
            mc = monte_carlo(model, p, s, ctx)
    with ctx.phase("observables"):
        return Result.assemble(p, model, s, eb, moments, profiles, mc)


def _moments(model, p, s, ctx):
    """{T: (MomentTrace, stationary D per group with / without intervalley, formation rate)}."""
    _, mine = local_items(list(p.temperatures), ctx.comm)
    progress = ctx.progress(len(mine), "moment solutions (rank 0)", unit="temperatures")
    out = []
    for T in mine:
        trace, st = vd.solve_moments_at(model, T, s)
        d_on = vd.stationary_diffusion(st.tables, st.groups, True)
        d_off = vd.stationary_diffusion(st.tables, st.groups, False)
        ctx.log.info("T = %5.1f K: %d cells, formation rate %.2f 1/ps, stationary D %.3f cm^2/s "
                     "(kT = %.2f meV)", T, st.cells.n, st.decay_rate, d_on[len(p.valleys)] *
                     NM2_PER_PS_IN_CM2_PER_S, KB_MEV_PER_K * T)
        out.append((T, (trace, d_on, d_off, st.decay_rate)))
        progress.update()
    return dict(allgather_blocks(out, ctx.comm))


def _profiles(model, p, s, ctx):
    """{T: (r, N [group, time, r], eta [group, time, r])} from the Fourier components."""
    k, w = k_quadrature(8.6 / np.sqrt(p.pulse.width2), p.profile_k_nodes, p.profile_k_panels)
    chunks = [(T, lo) for lo in range(0, len(k), p.profile_chunk) for T in p.temperatures]
    _, mine = local_items(chunks, ctx.comm)
    progress = ctx.progress(len(mine), "profile chunks (rank 0)", unit="chunks")
    parts = []
    for T, lo in mine:
        sel = slice(lo, lo + p.profile_chunk)
        tr = vd.solve_profiles_at(model, T, s, k[sel], w[sel])
        parts.append(((T, lo), (tr.P, tr.P_scat)))
        progress.update()
    got = dict(allgather_blocks(parts, ctx.comm))
    r = _radial_grid(k, w, p)
    out = {}
    for T in p.temperatures:
        P = np.concatenate([got[(T, lo)][0] for lo in range(0, len(k), p.profile_chunk)], axis=1)
        Ps = np.concatenate([got[(T, lo)][1] for lo in range(0, len(k), p.profile_chunk)], axis=1)
        N, dN = hankel(k, w, P, r), hankel(k, w, Ps, r)
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.where(P[:, 0] > 0, Ps[:, 0] / P[:, 0], 0.0)                        # [group, time]
        out[T] = (N, dN - c[..., None] * N)
    return r, out


def _radial_grid(k, w, p):
    """Radii (nm) up to 0.8 x the alias radius 2 pi / (largest node spacing) of the k quadrature."""
    spacing = np.max(np.diff(k[1:]))
    return np.linspace(0.0, 0.8 * 2.0 * np.pi / spacing, p.profile_r_points)
