"""The ``biexciton`` run file: /results/{trap,single,biexciton,repulsion,pl,lifetime_ratio} (docs/output.md)."""

from __future__ import annotations

import dataclasses

import numpy as np

ENERGY_ZERO = "energies relative to the free interlayer exciton (no moiré potential); the trap bottom is at -u0"


@dataclasses.dataclass
class Trap:
    """Harmonic trap at the run's twist angle: energies (meV), kappa (1/nm), lengths (nm)."""

    hbar_omega0: float
    hbar_omega0_eq22: float
    u0: float
    kappa: float
    period: float
    minimum: np.ndarray                 # [2] nm
    light_momentum: np.ndarray          # [2] 1/nm

    def write(self, writer):
        t = "results/trap"
        writer.group(t)
        writer.write(f"{t}/hbar_omega0", self.hbar_omega0, units="meV",
                     attrs={"definition": "hbar sqrt(k/m), k = curvature of M(r) at its minimum (Eqs. 21-22)"})
        writer.write(f"{t}/hbar_omega0_eq22", self.hbar_omega0_eq22, units="meV",
                     attrs={"definition": "hbar (2 pi/a_M) sqrt(2 U0/(3 m_x)), seed 003 Eq. 22"})
        writer.write(f"{t}/u0", self.u0, units="meV", attrs={"definition": "U0 = -M(r_min)"})
        writer.write(f"{t}/kappa", self.kappa, units="1/nm", attrs={"definition": "sqrt(m_x omega0/hbar)"})
        writer.write(f"{t}/period", self.period, units="nm")
        writer.write(f"{t}/minimum", self.minimum, units="nm")
        writer.write(f"{t}/light_momentum", self.light_momentum, units="1/nm", attrs={"definition": "K_c - K_v"})


@dataclasses.dataclass
class Single:
    """Single-exciton states with N <= window quanta: energies (meV), labels, |g_sigma/g0|^2 (nm^2)."""

    window: int
    energy: np.ndarray
    n: np.ndarray
    l: np.ndarray                       # noqa: E741
    quanta: np.ndarray
    oscillator_strength: np.ndarray     # [n_single, 2 (sigma)]
    sigma: np.ndarray

    def write(self, writer):
        s = "results/single"
        writer.group(s, attrs={"window": self.window})
        writer.write(f"{s}/energy", self.energy, units="meV", attrs={"definition": "hbar omega0 (2n+|l|+1) - U0"})
        writer.write(f"{s}/n", self.n, units="")
        writer.write(f"{s}/l", self.l, units="")
        writer.write(f"{s}/quanta", self.quanta, units="", attrs={"definition": "N = 2n + |l|"})
        writer.write(f"{s}/oscillator_strength", self.oscillator_strength, units="nm^2",
                     attrs={"shape": "[n_single, 2 (sigma = +1, -1)]", "definition": "|g_sigma(nu)/g0|^2, Eqs. 36-40"})
        writer.write(f"{s}/sigma", self.sigma, units="")


@dataclasses.dataclass
class Biexciton:
    """Biexciton states within the window, repulsion, decay, lifetime ratio and the relative motion (Fig. 2a)."""

    n_radial: int
    window: int
    energy: np.ndarray                  # [n2] meV
    n_c: np.ndarray
    l_c: np.ndarray
    nu_r: np.ndarray
    l_r: np.ndarray
    delta_xx: float                     # meV
    delta_xx_change: float              # meV
    decay_rate: np.ndarray              # [n2, 2 (sigma)] nm^2
    decay_levels: np.ndarray            # [n2, n_levels] nm^2
    lifetime_ratio: float
    relative_l: np.ndarray
    relative_energy: np.ndarray         # [n_l, k] meV
    relative_r: np.ndarray              # nm
    relative_potential: np.ndarray      # [3, n_r] meV
    relative_density: np.ndarray        # [2, n_r] 1/nm^2

    def write(self, writer):
        x = "results/biexciton"
        writer.group(x, attrs={"n_radial": self.n_radial, "window": self.window})
        writer.write(f"{x}/energy", self.energy, units="meV",
                     attrs={"definition": "E^(c) + E^(r) - 2 U0 (Eq. 35 ff.)"})
        for key in ("n_c", "l_c", "nu_r", "l_r"):
            writer.write(f"{x}/{key}", getattr(self, key), units="")
        writer.write(f"{x}/delta_xx", self.delta_xx, units="meV", attrs={"definition": "E^(2)_0 - 2 E^(1)_0"})
        writer.write(f"{x}/delta_xx_change", self.delta_xx_change, units="meV",
                     attrs={"definition": "Delta_xx(n_radial) - Delta_xx(n_radial/2)"})
        writer.write(f"{x}/decay_rate", self.decay_rate, units="nm^2",
                     attrs={"shape": "[n_biexciton, 2 (sigma)]",
                            "definition": "sum_nu1 Gamma^sigma_(nu nu1) / |g0|^2"})
        writer.write(f"{x}/decay_levels", self.decay_levels, units="nm^2",
                     attrs={"shape": "[n_biexciton, n_levels]",
                            "definition": "sum over sigma and final states of N1 quanta of Gamma^sigma_(nu nu1)"})
        writer.write(f"{x}/lifetime_ratio", self.lifetime_ratio, units="", attrs={"definition": "Eq. 47 at d, eps_r"})
        writer.write(f"{x}/relative_l", self.relative_l, units="")
        writer.write(f"{x}/relative_energy", self.relative_energy, units="meV",
                     attrs={"shape": "[n_l, 8]", "definition": "E^(r) of the lowest states per |l_r|"})
        writer.write(f"{x}/relative_r", self.relative_r, units="nm")
        writer.write(f"{x}/relative_potential", self.relative_potential, units="meV",
                     attrs={"shape": "[3 (trap m w^2 r^2/4, dipolar V(r), sum), n_r]"})
        writer.write(f"{x}/relative_density", self.relative_density, units="1/nm^2",
                     attrs={"shape": "[2 (interacting, V = 0), n_r]", "definition": "|psi_(0,0)(r)|^2 of Eq. 33"})


@dataclasses.dataclass
class Repulsion:
    """Delta_xx over (eps_r, twist angle) with the trap of each angle (meV, nm)."""

    n_radial: int
    theta_deg: np.ndarray
    epsilon: np.ndarray
    hbar_omega0: np.ndarray             # [n_theta]
    u0: np.ndarray
    period: np.ndarray
    delta_xx: np.ndarray                # [n_eps, n_theta]
    delta_xx_change: np.ndarray

    def write(self, writer):
        r = "results/repulsion"
        writer.group(r, attrs={"n_radial": self.n_radial})
        writer.write(f"{r}/theta_deg", self.theta_deg, units="deg")
        writer.write(f"{r}/epsilon", self.epsilon, units="")
        writer.write(f"{r}/hbar_omega0", self.hbar_omega0, units="meV")
        writer.write(f"{r}/u0", self.u0, units="meV")
        writer.write(f"{r}/period", self.period, units="nm")
        writer.write(f"{r}/delta_xx", self.delta_xx, units="meV", attrs={"shape": "[n_epsilon, n_theta]"})
        writer.write(f"{r}/delta_xx_change", self.delta_xx_change, units="meV",
                     attrs={"definition": "Delta_xx(n_radial) - Delta_xx(n_radial/2)"})


@dataclasses.dataclass
class PL:
    """PL over (T_eff, filling) on a photon-energy grid: I^(1), I^(2) (nm^2/meV), mu (meV), probabilities."""

    linewidth: float                    # meV
    top_shell_probability: float
    energy: np.ndarray                  # [n_E] meV
    filling: np.ndarray
    temperature: np.ndarray             # K
    intensity_single: np.ndarray        # [n_T, n_f, n_E]
    intensity_biexciton: np.ndarray
    chemical_potential: np.ndarray      # [n_T, n_f]
    probability: np.ndarray             # [n_T, n_f, 3]

    @property
    def intensity(self):
        """I = I^(1) + I^(2), [n_T, n_f, n_E] nm^2/meV."""
        return self.intensity_single + self.intensity_biexciton

    def write(self, writer):
        p = "results/pl"
        writer.group(p, attrs={"linewidth_meV": self.linewidth, "top_shell_probability": self.top_shell_probability})
        writer.write(f"{p}/energy", self.energy, units="meV", attrs={"energy_zero": ENERGY_ZERO})
        writer.write(f"{p}/filling", self.filling, units="")
        writer.write(f"{p}/temperature", self.temperature, units="K")
        writer.write(f"{p}/intensity", self.intensity, units="nm^2/meV",
                     attrs={"shape": "[n_T, n_filling, n_E]",
                            "definition": "I^(1) + I^(2) summed over sigma, / |g0|^2"})
        writer.write(f"{p}/intensity_single", self.intensity_single, units="nm^2/meV")
        writer.write(f"{p}/intensity_biexciton", self.intensity_biexciton, units="nm^2/meV")
        writer.write(f"{p}/chemical_potential", self.chemical_potential, units="meV")
        writer.write(f"{p}/probability", self.probability, units="",
                     attrs={"shape": "[n_T, n_filling, 3 (0, 1, 2 excitons)]"})


@dataclasses.dataclass
class Lifetime:
    """Lifetime ratio zeta against Delta_xx/hbar omega0 for scaled dipole lengths (nm, meV)."""

    dipole_scale: np.ndarray
    dipole_length: np.ndarray
    delta_xx: np.ndarray
    delta_xx_change: np.ndarray
    x: np.ndarray
    zeta: np.ndarray

    def write(self, writer):
        lt = "results/lifetime_ratio"
        writer.group(lt)
        writer.write(f"{lt}/dipole_scale", self.dipole_scale, units="")
        writer.write(f"{lt}/dipole_length", self.dipole_length, units="nm")
        writer.write(f"{lt}/delta_xx", self.delta_xx, units="meV")
        writer.write(f"{lt}/delta_xx_change", self.delta_xx_change, units="meV")
        writer.write(f"{lt}/x", self.x, units="", attrs={"definition": "Delta_xx/hbar omega0"})
        writer.write(f"{lt}/zeta", self.zeta, units="", attrs={"definition": "tau^(2)_0/tau^(1)_0, Eq. 47"})


@dataclasses.dataclass
class Result:
    """A ``biexciton`` run: system and model (attrs of /results) and its six groups."""

    system: str
    twist_deg: float
    epsilon_r: float
    dipole_length: float                # nm
    exciton_mass: float                 # m0
    source_eps_r: str
    source_dipole_length: str
    trap: Trap
    single: Single
    biexciton: Biexciton
    repulsion: Repulsion
    pl: PL
    lifetime: Lifetime

    def write(self, writer):
        writer.group("results", attrs={
            "system": self.system, "twist_deg": self.twist_deg, "epsilon_r": self.epsilon_r,
            "dipole_length_nm": self.dipole_length, "exciton_mass_m0": self.exciton_mass,
            "energy_zero": ENERGY_ZERO, "source_eps_r": self.source_eps_r,
            "source_dipole_length": self.source_dipole_length})
        for part in (self.trap, self.single, self.biexciton, self.repulsion, self.pl, self.lifetime):
            part.write(writer)

    @classmethod
    def read(cls, run):
        """From a finished ``biexciton`` run file (a :class:`hpcx.io.RunFile`)."""
        f = run.file

        def group(kind, name, int_attrs=(), scalars=()):
            """``kind`` from the datasets of /results/``name`` (and its integer group attributes)."""
            values = {key: int(f[f"results/{name}"].attrs[key]) for key in int_attrs}
            for field in dataclasses.fields(kind):
                if field.name not in values:
                    data = run.read(f"results/{name}/{field.name}")[0]
                    values[field.name] = float(data) if field.name in scalars else data
            return kind(**values)

        a, pl = f["results"].attrs, f["results/pl"].attrs
        return cls(
            system=str(a["system"]), twist_deg=float(a["twist_deg"]), epsilon_r=float(a["epsilon_r"]),
            dipole_length=float(a["dipole_length_nm"]), exciton_mass=float(a["exciton_mass_m0"]),
            source_eps_r=str(a["source_eps_r"]), source_dipole_length=str(a["source_dipole_length"]),
            trap=group(Trap, "trap", scalars=("hbar_omega0", "hbar_omega0_eq22", "u0", "kappa", "period")),
            single=group(Single, "single", int_attrs=("window",)),
            biexciton=group(Biexciton, "biexciton", int_attrs=("n_radial", "window"),
                            scalars=("delta_xx", "delta_xx_change", "lifetime_ratio")),
            repulsion=group(Repulsion, "repulsion", int_attrs=("n_radial",)),
            pl=PL(float(pl["linewidth_meV"]), float(pl["top_shell_probability"]),
                  *(run.read(f"results/pl/{k}")[0] for k in ("energy", "filling", "temperature", "intensity_single",
                                                             "intensity_biexciton", "chemical_potential",
                                                             "probability"))),
            lifetime=group(Lifetime, "lifetime_ratio"))
