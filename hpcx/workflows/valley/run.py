"""Phases of the ``valley`` workflow: model, moments per temperature (:mod:`.moments`, rounds over
ranks, checkpointed), profiles per (temperature, k-chunk) (:mod:`.profiles`, checkpointed), and optionally
the Monte Carlo (:mod:`.monte_carlo`, particle batches over ranks, checkpointed per temperature);
results independent of the rank count."""

from __future__ import annotations

from ...materials import tmd
from ...physics import valley_dynamics as vd
from ...physics.valley_model import model_from_couplings
from .moments import moment_solutions
from .monte_carlo import monte_carlo
from .profiles import radial_profiles
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
        moments = moment_solutions(model, p, s, ctx)
    profiles = None
    if p.profiles:
        with ctx.phase("profiles"):
            profiles = radial_profiles(model, p, s, ctx)
    mc = None
    if p.mc is not None:
        with ctx.phase("monte_carlo"):
            mc = monte_carlo(model, p, s, ctx)
    with ctx.phase("observables"):
        return Result.assemble(p, model, s, eb, moments, profiles, mc)

