"""Transport observables from Monte Carlo records: variances, diffusion, profiles, occupations.

Physics only.  Units: nm, ps, meV; diffusion returned in cm^2/s (1 nm^2/ps = 0.01 cm^2/s).
Definitions (seed 000 main text and SI Eq. 17, seed 002 Eq. 3 ff.):

* sigma^2(t) = <|r - <r>|^2> = var(x) + var(y), the variance of the 2D distribution, so that
  Fick's law gives sigma^2 = sigma_0^2 + 4 D t and D = (1/4) d sigma^2 / dt.
* The same variance of the displacements r(t) - r(0) (the mean squared displacement about
  its mean) has the same slope in expectation (rates do not depend on position, so r(0) and
  r(t) - r(0) are independent) without the noise of the initial spot; diffusion
  coefficients are taken from it.
* transient D(t) = (1/4) d sigma^2/dt (second-order finite differences); stationary D =
  slope / 4 of a least-squares line over the late window t >= t_fit; its error is the
  standard error of the same fit done batch by batch (independent particles).
* v2_eff = sum_i N_i |v_i|^2, tau_eff = sum_i N_i tau_i and D_occ = (1/2) sum_i N_i
  |v_i|^2 tau_i with the Monte Carlo occupation N_i: seed 000 Eq. 1 / Fig. 4b,c evaluated
  with the actual (possibly non-Boltzmann) distribution.
* The exact long-time D of the same jump process (Green-Kubo): with the generator
  A = diag(Gamma) - W (W_if = Gamma_i p_if of the sampling rows), its stationary
  distribution pi (pi A = 0) and chi solving A chi = v - <v>_pi, D = (1/2) sum_i pi_i
  (v_i - <v>) . chi_i.  The RTA of seed 000 Eq. 1 is the approximation chi_i = v_i / Gamma_i
  (velocity memory lost at every event); the Monte Carlo converges to the exact value.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
from scipy import sparse
from scipy.sparse import linalg as splinalg

from hpcx.units import NM2_PER_PS_IN_CM2_PER_S as _CM2

from .mc_engine import MOMENTS
from .mc_table import boltzmann

__all__ = ["green_kubo_diffusion", "variances", "transient_diffusion", "linear_fit", "stationary_diffusion",
           "profile_density", "energy_histogram", "occupation_averages", "analyse_point", "group_populations",
           "band_decomposition", "BandDecomposition"]

_I = {name: i for i, name in enumerate(MOMENTS)}


def _var(m, a, aa, b, bb):
    n = m[..., _I["n"]]
    with np.errstate(invalid="ignore", divide="ignore"):
        mx, my = m[..., _I[a]] / n, m[..., _I[b]] / n
        return (m[..., _I[aa]] / n - mx * mx) + (m[..., _I[bb]] / n - my * my)


def variances(moments):
    """Position and displacement variances (nm^2) per group and in total.

    moments [..., B, G, M] (Record.moments) -> (sigma2 [..., G + 1], msd [..., G + 1]); the last
    column is the whole ensemble.  Groups without particles give NaN.
    """
    m = np.asarray(moments).sum(axis=-3)                       # over batches, in batch order
    full = np.concatenate([m, m.sum(axis=-2, keepdims=True)], axis=-2)
    return _var(full, "x", "xx", "y", "yy"), _var(full, "dx", "dxdx", "dy", "dydy")


def batch_variances(moments):
    """Displacement variance of every batch, all groups together: [..., B] (nm^2)."""
    m = np.asarray(moments).sum(axis=-2)
    return _var(m, "dx", "dxdx", "dy", "dydy")


def transient_diffusion(times, sigma2):
    """D(t) = (1/4) d sigma^2/dt in cm^2/s along axis 0 (np.gradient, second order inside)."""
    return 0.25 * np.gradient(np.asarray(sigma2, dtype=float), np.asarray(times, dtype=float), axis=0) * _CM2


def linear_fit(t, y):
    """Least-squares (slope, intercept) of y(t); y may have trailing axes."""
    t = np.asarray(t, dtype=float)
    A = np.stack([t, np.ones_like(t)], axis=1)
    coef, *_ = np.linalg.lstsq(A, np.asarray(y, dtype=float).reshape(len(t), -1), rcond=None)
    return coef[0].reshape(np.shape(y)[1:]), coef[1].reshape(np.shape(y)[1:])


def stationary_diffusion(times, msd, msd_batches, t_fit):
    """Stationary D (cm^2/s) = slope/4 of msd(t) for t >= t_fit, and its batch standard error.

    msd [n_t] (ensemble), msd_batches [n_t, B].  Returns (D, error, slope, intercept).
    """
    t = np.asarray(times, dtype=float)
    late = t >= t_fit
    if late.sum() < 2:
        raise ValueError(f"the fit window t >= {t_fit} ps holds fewer than 2 sampling times")
    slope, icpt = linear_fit(t[late], np.asarray(msd)[late])
    sb, _ = linear_fit(t[late], np.asarray(msd_batches)[late])
    B = sb.shape[-1]
    err = np.std(sb, ddof=1) / np.sqrt(B) if B > 1 else np.nan
    return 0.25 * float(slope) * _CM2, 0.25 * float(err) * _CM2, float(slope), float(icpt)


def profile_density(counts, edges, total):
    """Particle density along x (1/nm) from bin counts [..., n_bins]: counts / (total * width)."""
    width = np.diff(np.asarray(edges, dtype=float))
    return np.asarray(counts, dtype=float) / (float(total) * width)


def energy_histogram(energy, occupation, edges):
    """Fraction of particles per energy bin (meV edges) from state occupations [..., n]."""
    occ = np.asarray(occupation, dtype=float)
    idx = np.clip(np.searchsorted(edges, energy, side="right") - 1, 0, len(edges) - 2)
    out = np.zeros(occ.shape[:-1] + (len(edges) - 1,))
    for b in range(len(edges) - 1):
        out[..., b] = occ[..., idx == b].sum(axis=-1)
    tot = occ.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return out / tot


def occupation_averages(velocity, total_rate, occupation):
    """(v2_eff nm^2/ps^2, tau_eff ps, D_occ cm^2/s) of occupations [..., n] (seed 000 Eq. 1)."""
    occ = np.asarray(occupation, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        N = occ / occ.sum(axis=-1, keepdims=True)
        tau = np.where(total_rate > 0, 1.0 / np.where(total_rate > 0, total_rate, 1.0), np.inf)
    v2 = np.sum(np.asarray(velocity) ** 2, axis=-1)
    tau_finite = np.where(np.isfinite(tau), tau, 0.0)
    return N @ v2, N @ tau_finite, 0.5 * (N @ (v2 * tau_finite)) * _CM2


def green_kubo_diffusion(total_rate, indptr, indices, cumulative, velocity):
    """Exact long-time D (cm^2/s) of the Markov jump process of sampling tables, and pi.

    total_rate [n] (1/ps), CSR rows (indptr, indices, cumulative) as McTable, velocity
    [n, 2] (nm/ps).  Returns (D, pi [n] stationary distribution).  D is infinite when a
    state the stationary distribution visits never scatters (an empty row or zero rate is
    a state that keeps its velocity, as in the Monte Carlo).
    """
    G = np.asarray(total_rate, dtype=float)
    n = len(G)
    indptr = np.asarray(indptr)
    counts = np.diff(indptr)
    rows = np.repeat(np.arange(n), counts)
    cum = np.asarray(cumulative, dtype=float)
    p = np.diff(np.concatenate([[0.0], cum]))
    starts = indptr[:-1][counts > 0]
    p[starts] = cum[starts]                                      # first entry of each row
    W = sparse.csr_matrix((G[rows] * p, (rows, np.asarray(indices))), shape=(n, n))
    A = (sparse.diags(G) - W).tocsc()
    # a unique stationary distribution needs exactly one closed class of states
    from scipy.sparse.csgraph import connected_components
    _, label = connected_components(W, directed=True, connection="strong")
    leaves = label[rows] != label[np.asarray(indices)]
    open_classes = np.unique(label[rows[leaves & (p > 0)]])
    if len(np.setdiff1d(np.unique(label), open_classes)) != 1:
        return np.nan, None
    # states that (numerically) never scatter keep their velocity: ballistic, D infinite
    stuck = (G <= 1e-30 * max(G.max(), 1e-300)) | (counts == 0)
    # stationary distribution: pi A = 0, sum pi = 1 (one equation replaced by the normalisation)
    At = A.T.tolil()
    At[0, :] = np.ones(n)
    rhs = np.zeros(n)
    rhs[0] = 1.0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", splinalg.MatrixRankWarning)
            pi = splinalg.spsolve(At.tocsc(), rhs)
    except (RuntimeError, splinalg.MatrixRankWarning):
        return np.nan, None
    if not np.all(np.isfinite(pi)) or np.any(pi < -1e-9 * np.abs(pi).max()):
        return np.nan, None
    pi = np.clip(pi, 0.0, None)
    pi /= pi.sum()
    if np.any(pi[stuck] > 1e-12):
        return np.inf, pi
    v = np.asarray(velocity, dtype=float)
    vc = v - pi @ v
    # A chi = vc with pi . chi = 0: bordered system [[A, 1], [pi, 0]]
    B = sparse.bmat([[A, sparse.csc_matrix(np.ones((n, 1)))], [sparse.csr_matrix(pi[None, :]), None]]).tocsc()
    try:
        lu = splinalg.splu(B)
    except RuntimeError:
        return np.nan, None
    chi = np.stack([lu.solve(np.concatenate([vc[:, a], [0.0]]))[:n] for a in range(2)], axis=1)
    D = 0.5 * float(np.sum(pi[:, None] * vc * chi)) * _CM2
    if not np.isfinite(D) or D < 0:        # an ill-conditioned solve (rates spanning many decades)
        return np.nan, pi
    return D, pi


def analyse_point(times, record, states, T, particles, t_fit, profile_edges, energy_edges):
    """Every observable of one sweep point from its Monte Carlo record.

    times [n_t] ps; record: dict of :class:`hpcx.physics.mc_engine.Record` arrays (moments,
    occupation, profiles, events); states: dict of the table's energy [n] meV, velocity
    [n, 2] nm/ps, total_rate [n] 1/ps, weight [n]; T (K) of the Boltzmann reference;
    ``particles`` N; stationary fit from t_fit (ps); x-bin and excess-energy bin edges (nm,
    meV).  Returns a dict: variance, msd, population [n_t, G + 1] (nm^2, nm^2, fraction);
    transient [n_t], transient_groups [n_t, G] (cm^2/s); stationary, stationary_error
    (cm^2/s), fit_intercept (nm^2), fit_events (events per particle in the fit window);
    profiles [n_t, G + 1, bins] (1/nm); energy_histogram [n_t, e], energy_histogram_boltzmann
    [e]; v2_eff, tau_eff, diffusion_occupation, mean_energy [n_t] (seed 000 Eq. 1 with the
    occupation N_i(t)); v2_eff_boltzmann.
    """
    moments = record["moments"]
    sigma2, msd = variances(moments)
    D, err, _, icpt = stationary_diffusion(times, msd[:, -1], batch_variances(moments), t_fit)
    n_group = moments[..., 0].sum(axis=1)                                   # [n_t, G]
    prof = record["profiles"]
    prof = np.concatenate([prof, prof.sum(axis=1, keepdims=True)], axis=1)
    E = states["energy"]
    v2, tau, D_occ = occupation_averages(states["velocity"], states["total_rate"], record["occupation"])
    occ = record["occupation"].astype(float)
    mean_E = (occ @ (E - E.min())) / np.maximum(occ.sum(axis=1), 1)
    boltz = boltzmann(E, states["weight"], T)
    k_fit = int(np.searchsorted(times, t_fit))
    return {
        "fit_events": (record["events"][-1] - record["events"][k_fit]) / particles,
        "variance": sigma2, "msd": msd,
        "population": np.concatenate([n_group, n_group.sum(axis=1, keepdims=True)], axis=1) / particles,
        "transient": transient_diffusion(times, msd[:, -1]),
        "transient_groups": transient_diffusion(times, msd[:, :-1]),
        "stationary": D, "stationary_error": err, "fit_intercept": icpt,
        "profiles": profile_density(prof, profile_edges, particles),
        "energy_histogram": energy_histogram(E - E.min(), record["occupation"], energy_edges),
        "energy_histogram_boltzmann": energy_histogram(E - E.min(), boltz, energy_edges),
        "v2_eff": v2, "tau_eff": tau, "diffusion_occupation": D_occ, "mean_energy": mean_E,
        "v2_eff_boltzmann": float(boltz @ np.sum(states["velocity"] ** 2, axis=1)),
    }


def group_populations(occupation, group, n_groups):
    """Fraction of the particles (or of a distribution) in each group (band / valley).

    occupation [..., n] (particles per state, or probabilities), group [n] -> [..., n_groups].
    """
    occ = np.asarray(occupation, dtype=float)
    out = np.stack([occ[..., np.asarray(group) == g].sum(axis=-1) for g in range(n_groups)], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return out / occ.sum(axis=-1, keepdims=True)


@dataclasses.dataclass
class BandDecomposition:
    """Seed 000 Eq. 1 split by group (band), for one distribution N_i (normalised over all states).

    ``population`` [G] fraction of the excitons in the group; ``v2`` [G] (nm^2/ps^2) and ``tau`` [G]
    (ps) the group's own averages <|v|^2> and <tau> (NaN for an empty group); ``v2tau`` [G]
    (cm^2/s) the group's (1/2) <|v|^2 tau>; ``diffusion`` [G] (cm^2/s) its contribution
    (1/2) sum_{i in g} N_i |v_i|^2 tau_i, which adds up to the D_occ of
    :func:`occupation_averages`.
    """

    population: np.ndarray
    v2: np.ndarray
    tau: np.ndarray
    v2tau: np.ndarray
    diffusion: np.ndarray


def band_decomposition(velocity, total_rate, group, distribution, n_groups=None):
    """:class:`BandDecomposition` of a distribution [n] (occupations or probabilities) over states with
    velocity [n, 2] nm/ps, total_rate [n] 1/ps (tau = 1/total_rate) and group [n]."""
    N = np.asarray(distribution, dtype=float)
    N = N / N.sum()
    group = np.asarray(group)
    n_groups = int(group.max()) + 1 if n_groups is None else n_groups
    v2 = np.sum(np.asarray(velocity, dtype=float) ** 2, axis=-1)
    rate = np.asarray(total_rate, dtype=float)
    tau = np.where(rate > 0, 1.0 / np.where(rate > 0, rate, 1.0), 0.0)
    pop, mv2, mtau, mv2tau, dg = (np.zeros(n_groups) for _ in range(5))
    for g in range(n_groups):
        m = group == g
        pop[g] = N[m].sum()
        dg[g] = 0.5 * float(N[m] @ (v2[m] * tau[m])) * _CM2
        with np.errstate(invalid="ignore", divide="ignore"):
            mv2[g], mtau[g] = (N[m] @ v2[m]) / pop[g], (N[m] @ tau[m]) / pop[g]
            mv2tau[g] = dg[g] / pop[g]
    return BandDecomposition(pop, mv2, mtau, mv2tau, dg)
