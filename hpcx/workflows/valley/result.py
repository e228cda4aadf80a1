"""The ``valley`` run file: /results/... of docs/output.md (section ``valley``)."""

from __future__ import annotations

import dataclasses

import numpy as np

from ...units import KB_MEV_PER_K, NM2_PER_PS_IN_CM2_PER_S

CM2 = NM2_PER_PS_IN_CM2_PER_S


MC_FIELDS = (("density", "", "sum of weights: n_g(t) per exciton created (PL: I_PL, 1/ps)"),
             ("density_error", "", "jackknife standard error of density"),
             ("width2", "nm^2", "<r^2>_spot + weighted <|r - r_birth|^2> (the lower-variance estimator)"),
             ("width2_error", "nm^2", "jackknife standard error of width2"),
             ("width2_direct", "nm^2", "weighted <r^2>"),
             ("width2_direct_error", "nm^2", "jackknife standard error of width2_direct"),
             ("diffusion", "cm^2/s", "(1/4) d width2/dt, centred differences of the samples"),
             ("diffusion_error", "cm^2/s", "jackknife standard error of diffusion"),
             ("particles", "", "effective number of particles (sum w)^2 / sum w^2"))


@dataclasses.dataclass
class McResult:
    """The Monte Carlo cross-check: [T_mc, group, time_mc] arrays (groups: valleys, ``total``,
    ``pl``), ``profile`` [T_mc, group, time_mc, r] (1/nm^2; PL 1/(nm^2 ps)), ``events`` [T_mc, time_mc]."""

    temperature: np.ndarray
    time: np.ndarray
    groups: list
    r: np.ndarray
    profile: np.ndarray
    events: np.ndarray
    values: dict
    attrs: dict

    @classmethod
    def assemble(cls, p, mc):
        temps = list(p.mc.temperatures)
        traces = [mc[T][0] for T in temps]
        scale = {"diffusion": CM2, "diffusion_error": CM2}
        names = {"density": "n", "density_error": "n_error"}
        values = {k: np.array([getattr(tr, names.get(k, k)) for tr in traces]) * scale.get(k, 1.0)
                  for k, _, _ in MC_FIELDS}
        return cls(np.array(temps), traces[0].t, list(p.valleys) + ["total", "pl"], traces[0].r,
                   np.array([tr.profile for tr in traces]), np.array([mc[T][1] for T in temps]), values,
                   {"particles": p.mc.particles, "batches": p.mc.batches, "seed": p.mc.seed, "speeds": p.mc.speeds,
                    "spot_width2_nm2": p.pulse.width2})

    def write(self, writer):
        w = writer.write
        writer.group("results/monte_carlo", attrs=self.attrs)
        w("results/monte_carlo/temperature", self.temperature, "K")
        w("results/monte_carlo/time", self.time, "ps")
        w("results/monte_carlo/groups", self.groups, "label")
        w("results/monte_carlo/r", self.r, "nm", attrs={"definition": "centres of the radial bins"})
        shape = {"shape": "[temperature, group, time]"}
        for name, unit, doc in MC_FIELDS:
            w(f"results/monte_carlo/{name}", self.values[name], unit, attrs={**shape, "definition": doc})
        w("results/monte_carlo/profile", self.profile, "1/nm^2",
          attrs={"shape": "[temperature, group, time, r]", "definition": "weight per area (pl: 1/(nm^2 ps))"})
        w("results/monte_carlo/events", self.events, "", attrs={"shape": "[temperature, time]",
                                                               "definition": "scattering events so far"})

    @classmethod
    def read(cls, run):
        f = run.file["results/monte_carlo"]
        r = lambda name: run.read(f"results/monte_carlo/{name}")[0]  # noqa: E731
        return cls(r("temperature"), r("time"), list(r("groups")), r("r"), r("profile"), r("events"),
                   {name: r(name) for name, _, _ in MC_FIELDS}, dict(f.attrs))


@dataclasses.dataclass
class Result:
    """Moments [T, valley, time], totals and PL [T, time], profiles [T, (valley,) time_p, r]."""

    temperature: np.ndarray
    time: np.ndarray
    valleys: list
    density: np.ndarray
    width2: np.ndarray
    diffusion: np.ndarray
    diffusion_scattering: np.ndarray
    total_width2: np.ndarray
    total_diffusion: np.ndarray
    pl_width2: np.ndarray
    pl_diffusion: np.ndarray
    pl_intensity: np.ndarray
    stationary_diffusion: np.ndarray          # [T, valley] intravalley only, cm^2/s
    stationary_diffusion_total: np.ndarray    # [T] all channels, cm^2/s
    intravalley_time: np.ndarray              # [T, valley] fs
    formation_rate: np.ndarray                # [T] 1/ps
    mass: np.ndarray
    offset: np.ndarray
    degeneracy: np.ndarray
    binding_energy: float
    intervalley_off_after: float
    profile_time: np.ndarray | None = None
    r: np.ndarray | None = None
    pl_profile: np.ndarray | None = None       # [T, time_p, r] 1/(nm^2 ps)
    profile: np.ndarray | None = None          # [T, valley, time_p, r] 1/nm^2
    eta: np.ndarray | None = None              # [T, valley, time_p, r] 1/(nm^2 ps)
    monte_carlo: McResult | None = None

    @classmethod
    def assemble(cls, p, model, s, eb, moments, profiles, mc=None):
        """From the per-temperature solutions of :mod:`.run`."""
        V = len(p.valleys)
        traces = [moments[T][0] for T in p.temperatures]
        w2 = np.array([t.width2() for t in traces])
        D = np.array([t.diffusion() for t in traces]) * CM2
        Ds = np.array([t.diffusion_scattering() for t in traces]) * CM2
        n = np.array([t.n for t in traces])
        d_off = np.array([moments[T][2][:V] for T in p.temperatures]) * CM2
        kT = KB_MEV_PER_K * np.array(p.temperatures)[:, None]
        mass = np.array([v.mass for v in model.valleys])
        # D = tau kT / M  ->  tau = D M / kT; D in nm^2/ps, 4 H / hbar^2 = 1/m0 in meV^-1 nm^2 ps^-2
        from ...units import HBAR2_2M0_MEV_NM2, HBAR_MEV_PS
        tau_fs = 1e3 * (d_off / CM2) * mass[None, :] / kT * HBAR_MEV_PS ** 2 / (2.0 * HBAR2_2M0_MEV_NM2)
        out = cls(temperature=np.array(p.temperatures), time=s.times(), valleys=list(p.valleys),
                  density=n[:, :V], width2=w2[:, :V], diffusion=D[:, :V], diffusion_scattering=Ds[:, :V],
                  total_width2=w2[:, V], total_diffusion=D[:, V], pl_width2=w2[:, V + 1],
                  pl_diffusion=D[:, V + 1], pl_intensity=n[:, V + 1], stationary_diffusion=d_off,
                  stationary_diffusion_total=np.array([moments[T][1][V] for T in p.temperatures]) * CM2,
                  intravalley_time=tau_fs, formation_rate=np.array([moments[T][3] for T in p.temperatures]),
                  mass=mass, offset=np.array([v.offset for v in model.valleys]),
                  degeneracy=np.array([v.degeneracy for v in model.valleys]), binding_energy=eb,
                  intervalley_off_after=np.nan if p.intervalley_off_after is None else p.intervalley_off_after)
        if profiles is not None:
            r, prof = profiles
            out.profile_time, out.r = s.times(s.profile_dt), r
            out.profile = np.array([prof[T][0][:V] for T in p.temperatures])
            out.pl_profile = np.array([prof[T][0][V + 1] for T in p.temperatures])
            out.eta = np.array([prof[T][1][:V] for T in p.temperatures])
        if mc is not None:
            out.monte_carlo = McResult.assemble(p, mc)
        return out

    def write(self, writer):
        w = writer.write
        writer.group("results", attrs={"binding_energy_meV": self.binding_energy,
                                       "intervalley_off_after_ps": self.intervalley_off_after})
        w("results/temperature", self.temperature, "K")
        w("results/time", self.time, "ps")
        w("results/valleys", self.valleys, "label")
        w("results/valley_mass", self.mass, "m0")
        w("results/valley_offset", self.offset, "meV")
        w("results/valley_degeneracy", self.degeneracy, "")
        tvt = {"shape": "[temperature, valley, time]"}
        w("results/density", self.density, "", attrs={**tvt, "definition": "n_v(t) per exciton created"})
        w("results/width2", self.width2, "nm^2", attrs={**tvt, "definition": "w^2 = int r^2 N_v d^2r / n_v"})
        w("results/diffusion", self.diffusion, "cm^2/s", attrs={**tvt, "definition": "D_v = (1/4) d w_v^2/dt"})
        w("results/diffusion_scattering", self.diffusion_scattering, "cm^2/s",
          attrs={**tvt, "definition": "seed 002 Eq. 4: int r^2 eta_v / (4 int N_v)"})
        tt = {"shape": "[temperature, time]"}
        w("results/total/width2", self.total_width2, "nm^2", attrs={**tt, "definition": "of N = sum_v N_v"})
        w("results/total/diffusion", self.total_diffusion, "cm^2/s", attrs=tt)
        w("results/pl/width2", self.pl_width2, "nm^2", attrs={**tt, "definition": "of I_PL = gamma N_KK,lc"})
        w("results/pl/diffusion", self.pl_diffusion, "cm^2/s", attrs=tt)
        w("results/pl/intensity", self.pl_intensity, "1/ps", attrs={**tt, "definition": "int I_PL d^2r"})
        w("results/stationary_diffusion", self.stationary_diffusion, "cm^2/s",
          attrs={"shape": "[temperature, valley]", "definition": "Boltzmann, intravalley scattering only"})
        w("results/stationary_diffusion_total", self.stationary_diffusion_total, "cm^2/s",
          attrs={"shape": "[temperature]", "definition": "Boltzmann over all valleys, all scattering"})
        w("results/intravalley_time", self.intravalley_time, "fs",
          attrs={"shape": "[temperature, valley]", "definition": "tau_v = D_v M_v / kT (seed 002, Fig. 4)"})
        w("results/formation_rate", self.formation_rate, "1/ps",
          attrs={"definition": "decay rate of the coherent polarization |p0|^2 (formation + radiative)"})
        if self.profile is not None:
            w("results/pl/time", self.profile_time, "ps")
            w("results/pl/r", self.r, "nm")
            w("results/pl/profile", self.pl_profile, "1/(nm^2 ps)", attrs={"shape": "[temperature, time, r]"})
            w("results/profiles/density", self.profile, "1/nm^2",
              attrs={"shape": "[temperature, valley, time, r]", "time": "results/pl/time", "r": "results/pl/r"})
            w("results/profiles/eta", self.eta, "1/(nm^2 ps)",
              attrs={"shape": "[temperature, valley, time, r]", "definition": "seed 002 Eq. 4"})
        if self.monte_carlo is not None:
            self.monte_carlo.write(writer)

    @classmethod
    def read(cls, run):
        """From a finished run file."""
        f = run.file["results"]
        r = lambda name: run.read(f"results/{name}")[0]  # noqa: E731
        has = "pl/profile" in f
        return cls(temperature=r("temperature"), time=r("time"), valleys=list(r("valleys")),
                   density=r("density"), width2=r("width2"), diffusion=r("diffusion"),
                   diffusion_scattering=r("diffusion_scattering"), total_width2=r("total/width2"),
                   total_diffusion=r("total/diffusion"), pl_width2=r("pl/width2"), pl_diffusion=r("pl/diffusion"),
                   pl_intensity=r("pl/intensity"), stationary_diffusion=r("stationary_diffusion"),
                   stationary_diffusion_total=r("stationary_diffusion_total"),
                   intravalley_time=r("intravalley_time"), formation_rate=r("formation_rate"),
                   mass=r("valley_mass"), offset=r("valley_offset"), degeneracy=r("valley_degeneracy"),
                   binding_energy=float(f.attrs["binding_energy_meV"]),
                   intervalley_off_after=float(f.attrs["intervalley_off_after_ps"]),
                   profile_time=r("pl/time") if has else None, r=r("pl/r") if has else None,
                   pl_profile=r("pl/profile") if has else None, profile=r("profiles/density") if has else None,
                   eta=r("profiles/eta") if has else None,
                   monte_carlo=McResult.read(run) if "monte_carlo" in f else None)
