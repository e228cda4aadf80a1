"""The valley Monte Carlo (hpcx.physics.valley_mc*, kernel mc_push.push_cells): angle tables from the
rates, kernel == twin, sampling statistics of one event, and the physics against exact results:
constant relaxation time, weight conservation, a two-species telegraph model with negative
diffusion in closed form, and the moment solver of the full WS2 model."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats
from scipy.linalg import expm

from hpcx._kernels import twin
from hpcx.parallel import SerialComm
from hpcx.physics import valley_dynamics as vd
from hpcx.physics import valley_mc as vmc
from hpcx.physics import valley_mc_angles as va
from hpcx.physics import valley_mc_table as vt
from hpcx.physics.valley_cells import cell_thermal, make_cells
from hpcx.physics.valley_model import ValleySpec, hydrogenic_form_factor, model_from_couplings
from hpcx.physics.valley_rates import rate_tables
from hpcx.units import HBAR2_2M0_MEV_NM2 as H
from hpcx.units import HBAR_MEV_PS as HBAR
from hpcx.units import KB_MEV_PER_K as KB

from helpers import require_kernel

SPOT = 45084.0          # nm^2, <r^2> of the seed's 0.5 um spot


@pytest.fixture(scope="module")
def ker():
    return require_kernel("mc_push")


def ws2(radius=1.5):
    from hpcx.materials.phonons import phonon_params, valley_couplings
    return model_from_couplings(valley_couplings("WS2"), phonon_params("WS2"), hydrogenic_form_factor(radius))


def rates_from_nodes(nodes, thermal, n, m):
    """W^(m) [to, from] rebuilt from angle nodes (both directions of every pair)."""
    kT = KB * thermal.T
    W = sp.csr_matrix((n, n))
    for nd in nodes:
        F = np.sum(nd.flux * np.cos(m * nd.theta), axis=1)
        off = nd.i != nd.j
        rows, cols = np.concatenate([nd.i, nd.j[off]]), np.concatenate([nd.j, nd.i[off]])
        e, v = np.concatenate([nd.e_ref, nd.e_ref[off]]), np.concatenate([F, F[off]])
        W = W + sp.csr_matrix((v * np.exp(-e / kT - thermal.log_z[cols]), (rows, cols)), shape=(n, n))
    return W


@pytest.mark.parametrize("T", [300.0, 20.0])
def test_angle_nodes_reproduce_the_rate_harmonics(T):
    """Summed over the quadrature nodes, flux x cos(m theta) is the rate table's W^(m) (m = 0, 1, 2)
    for every channel of the full WS2 model: the Monte Carlo's angles come from the same integrals."""
    model = ws2()
    cells = make_cells(model.valleys, [1.4, 1.5, 1.7], 0.02)
    t = rate_tables(model, cells, T, harmonics=3)
    nodes = [va.debye_nodes(model, br, cells, T) for br in model.debye]
    nodes += [va.einstein_nodes(model, ch, cells, T) for ch in model.einstein]
    for m in range(3):
        W = t.W(m)
        assert abs(rates_from_nodes(nodes, t.thermal, cells.n, m) - W).max() <= 1e-12 * abs(W).max()


def test_cell_table_shares_the_rates_of_the_moment_solver():
    """Out-rates, row probabilities and radiative rates are the moment solver's; every entry's angle
    quantiles are increasing in [0, pi] with mean cos theta = W^(1)/W^(0)."""
    model = ws2()
    st = vd.setup(model, 77.0, vd.Settings(), 0.04, 2)
    tab = vt.cell_table(model, st.tables)
    np.testing.assert_allclose(tab.gout, st.tables.out_rate(), rtol=1e-13)
    W0 = st.tables.W(0).tocsc()
    for j in (3, 40, st.cells.starts[1] + 7, st.cells.n - 5):
        a, b = tab.indptr[j], tab.indptr[j + 1]
        p = np.diff(np.concatenate([[0.0], tab.cumulative[a:b]]))
        col = W0[:, j].toarray().ravel()
        np.testing.assert_allclose(p, col[tab.indices[a:b]] / col.sum(), rtol=1e-9, atol=1e-13)
    assert np.all(np.diff(tab.angles, axis=1) >= 0) and tab.angles.min() >= 0 and tab.angles.max() <= np.pi
    W1 = st.tables.W(1).tocsc()
    col = np.repeat(np.arange(tab.n), np.diff(tab.indptr))
    target = np.asarray(W1[tab.indices, col]).ravel() / np.asarray(W0[tab.indices, col]).ravel()
    np.testing.assert_allclose(va.mean_cos(tab.angles), target, atol=1e-8)
    np.testing.assert_array_equal(tab.decay, st.tables.radiative)


def assert_statistically_equal(z):
    """Many comparisons (times, groups) of one Monte Carlo run, strongly correlated in time: each
    within 3 sigma would fail by chance for several percent of seeds (a 3-sigma excursion of one
    batch of particles lasts several samples), so the family is held to |z| < 4, the 3-sigma level
    with a Bonferroni factor of ~50.  Systematic errors are excluded by the statistics: 40000
    particles put 4 sigma at about 1 % of the quantities compared (no bias was seen at 10^6)."""
    z = np.asarray(z)
    assert np.all(np.isfinite(z)) and len(z) >= 10
    assert np.max(np.abs(z)) < 4.0, np.round(z, 2)


def particle_arrays(n, cell):
    return dict(cell=np.full(n, cell, np.int64), x=np.zeros(n), y=np.zeros(n), t=np.zeros(n), tn=np.zeros(n),
                ctr=np.full(n, 4, np.uint64), weight=np.ones(n), phi=np.zeros(n), speed=np.ones(n))


def push(mod, tab, arr, t_end, seed=3, p0=0):
    return mod.push_cells(seed, p0, t_end, *arr.values(), tab.gout, tab.decay, tab.e0, tab.spread, tab.vfac,
                          tab.kT, tab.indptr, tab.indices, tab.packed, tab.angles)


def test_push_cells_kernel_equals_numpy_twin(ker):
    """Weighted, valley-labelled push with radiative decay: cells, counters and event counts identical,
    continuous values to round-off, for a pulse-born ensemble pushed in three calls."""
    model = ws2()
    st = vd.setup(model, 77.0, vd.Settings(), 0.04, 2)
    tab = vt.cell_table(model, st.tables).with_alias(ker)
    tab = vt.table_from_rates(st.tables.W(0), st.tables.W(1), st.cells.valley, tab.e0, tab.spread, tab.vfac,
                              tab.kT, decay=st.tables.radiative * 50.0, nodes=va.model_nodes(model, st.cells, 77.0),
                              T=77.0).with_alias(ker)
    src = vmc.pulse_source(st.tables.formation, st.f, st.source_end, SPOT)
    s = vmc.McSettings(600, 4, 9, np.linspace(0.0, 2000.0, 11))
    out = []
    for mod in (ker, twin("mc_push")):
        e = vmc.CellEnsemble(tab, s, SerialComm(), mod)
        e.place(src)
        events = [e.push(t) for t in (0.25, 1.0, 4.0)]
        out.append((events, {f: getattr(e, f).copy() for f in vmc.PARTICLE_FIELDS}))
    assert out[0][0] == out[1][0] and out[0][0][-1] > 600 * 20
    for f in ("cell", "ctr", "t", "x0", "y0"):
        np.testing.assert_array_equal(out[0][1][f], out[1][1][f], err_msg=f)
    for f in ("x", "y", "tn", "weight", "phi", "speed"):
        np.testing.assert_allclose(out[0][1][f], out[1][1][f], rtol=1e-11, atol=1e-9, err_msg=f)
    assert np.min(out[0][1]["weight"]) < (1 - 1e-3) * np.max(out[0][1]["weight"])      # decay acted


def test_one_event_statistics(ker):
    """Particles that all scatter once from one cell: final cells follow the row (chi^2), the mean
    cos of the turn into each cell is the rates' W^(1)/W^(0), and the new kinetic energy has the
    cell's Boltzmann mean (4 standard errors)."""
    model = ws2()
    st = vd.setup(model, 77.0, vd.Settings(), 0.04, 2)
    tab = vt.cell_table(model, st.tables).with_alias(ker)
    j, n = st.cells.starts[1] + 6, 200000
    arr = particle_arrays(n, j)
    assert push(ker, tab, arr, 0.0) == n
    a, b = tab.indptr[j], tab.indptr[j + 1]
    final, probs = tab.indices[a:b], np.diff(np.concatenate([[0.0], tab.cumulative[a:b]]))
    counts = np.array([np.sum(arr["cell"] == f) for f in final])
    big = probs * n > 20
    chi2 = np.sum((counts[big] - n * probs[big]) ** 2 / (n * probs[big]))
    assert stats.chi2.sf(chi2, big.sum() - 1) > 1e-3
    kinetic = (arr["speed"] / tab.vfac[arr["cell"]]) ** 2
    for k in np.nonzero(counts > 2000)[0]:
        sel = arr["cell"] == final[k]
        c = np.cos(arr["phi"][sel])
        assert abs(c.mean() - tab.mean_cos[a + k]) < 4 * c.std() / np.sqrt(sel.sum())
        e = kinetic[sel]
        assert abs(e.mean() - st.tables.thermal.mean_kinetic[final[k]]) < 4 * e.std() / np.sqrt(sel.sum())


def rta_table(T=77.0, tau=0.1):
    """One valley, every cell scattering at 1/tau into the Boltzmann distribution, isotropically."""
    v = ValleySpec("X", 0.0, 0.3, 0.35)
    kT = KB * T
    qm = np.sqrt(40 * kT * v.mass / H)
    cells = make_cells((v,), qm, qm / 120)
    p = cell_thermal(cells, T).boltzmann()
    W0 = sp.csr_matrix(np.outer(p, np.ones(cells.n)) / tau)
    tab = vt.table_from_rates(W0, sp.csr_matrix((cells.n, cells.n)), cells.valley, cells.e0 - cells.offset,
                              -np.expm1(-(cells.e1 - cells.e0) / kT), vt.speed_factor(cells.mass), kT)
    return tab, p, tau * kT / v.mass * 2.0 * H / HBAR ** 2


def test_constant_relaxation_time_gives_tau_kT_over_M():
    """Single valley, constant tau, Boltzmann start: the stationary D (slope of the mean squared
    displacement for t >> tau) is tau kT/M within 3 standard errors (and 3 %)."""
    tab, p, exact = rta_table()
    s = vmc.McSettings(40000, 32, 7, np.linspace(0.0, 2000.0, 21))
    times = np.linspace(0.0, 4.0, 9)
    rec = vmc.simulate(tab, vmc.initial_source(p, SPOT), s, times, np.ones((1, tab.n)), SerialComm())
    i1 = 2                                                            # t = 1 ps = 10 tau

    def slope(tot):
        return (tot[-1, ..., 2] / tot[-1, ..., 0] - tot[i1, ..., 2] / tot[i1, ..., 0]) / (4 * (times[-1] - times[i1]))
    D, err = vmc._jackknife(slope, rec.sums)
    assert abs(D[0] - exact) < 3 * err[0] and err[0] < 0.01 * exact
    assert abs(D[0] - exact) < 0.03 * exact


def test_weight_conserved_without_decay():
    """Without radiative decay the weights never change: after the pulse the total weight is one
    exciton per coherent exciton (the moment solver's sum n = 1), exactly, while the valleys
    exchange it; with decay the Monte Carlo loses what the moment solver loses (3 sigma)."""
    model = ws2()
    for decay in (False, True):
        s = vd.Settings(t_end=3.0, dt=0.5, dq=0.05, radiative_decay=decay)
        tr, st = vd.solve_moments_at(model, 300.0, s)
        tab = vt.cell_table(model, st.tables)
        ms = vmc.McSettings(4000, 16, 2, np.linspace(0.0, 2000.0, 5))
        rec = vmc.simulate(tab, vmc.pulse_source(st.tables.formation, st.f, st.source_end, SPOT), ms,
                           s.times(), st.groups, SerialComm())
        o = vmc.observables(rec, SPOT, ms.r_edges)
        after = s.times() > st.source_end
        V = len(model.valleys)
        if not decay:
            np.testing.assert_allclose(o.n[V, after], 1.0, rtol=1e-12)
            np.testing.assert_allclose(o.n[:V, after].sum(axis=0), o.n[V, after], rtol=1e-12)
            assert np.ptp(o.n[0, 1:]) > 0.01                     # KK drains into the dark valleys
        else:
            assert np.all(o.n[V, -1] < 1.0 - 1e-4)
            assert abs(o.n[V, -1] - tr.n[V, -1]) < 3 * o.n_error[V, -1]


def telegraph_moments(t, vA, vB, tau, k, kp, S0):
    """Exact moments (n_A, n_B, s_A, s_B) of two species with fixed speeds vA, vB, isotropic velocity
    randomisation at 1/tau and isotropic exchange A -> B (k), B -> A (kp), all in A at t = 0:
    the linear system of (n, a, s) (docs/theory/valley.md §9) solved by the matrix exponential."""
    J = np.zeros((6, 6))                  # y = (nA, nB, aA, aB, sA, sB)
    J[0, :2], J[1, :2] = (-k, kp), (k, -kp)
    J[2, 0], J[2, 2] = vA, -(1 / tau + k)
    J[3, 1], J[3, 3] = vB, -(1 / tau + kp)
    J[4, 2], J[4, 4], J[4, 5] = 2 * vA, -k, kp
    J[5, 3], J[5, 4], J[5, 5] = 2 * vB, k, -kp
    y0 = np.array([1.0, 0.0, 0.0, 0.0, S0, 0.0])
    Y = np.array([expm(J * tt) @ y0 for tt in t])
    return Y[:, 0], Y[:, 1], Y[:, 4], Y[:, 5]


def test_two_species_telegraph_model_with_negative_diffusion():
    """A fast species A (v_A, turning at 1/tau) exchanging with a slow one B: the minority A first
    spreads, then shrinks (negative D, refilled from B's narrow centre) while the total keeps
    spreading.  Monte Carlo w_A^2, w_B^2 == the exact moments (:func:`assert_statistically_equal`),
    and over the interval where the exact D_A < 0 the Monte Carlo w_A^2 shrinks by more than 3 sigma,
    by the exact amount within 3 sigma."""
    tau, k, kp, DA, DB = 0.05, 0.5, 0.02, 3000.0, 10.0
    vA, vB = np.sqrt(2 * DA / tau), np.sqrt(2 * DB / tau)
    W0 = sp.csr_matrix(np.array([[1 / tau, kp], [k, 1 / tau]]))
    tab = vt.table_from_rates(W0, sp.csr_matrix((2, 2)), [0, 1], np.ones(2), np.zeros(2), np.array([vA, vB]), 1.0)
    s = vmc.McSettings(100000, 64, 4, np.linspace(0.0, 4000.0, 21))
    times = np.linspace(0.0, 16.0, 17)
    G = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    rec = vmc.simulate(tab, vmc.initial_source([1.0, 0.0], SPOT), s, times, G, SerialComm())
    o = vmc.observables(rec, SPOT, s.r_edges)
    nA, nB, sA, sB = telegraph_moments(times, vA, vB, tau, k, kp, SPOT)
    np.testing.assert_allclose(o.n[0], nA, atol=4 * o.n_error[0].max() + 1e-12)
    sel = times >= 2.0
    assert_statistically_equal(np.concatenate([(o.width2[g, sel] - exact[sel]) / o.width2_error[g, sel]
                                               for g, exact in ((0, sA / nA), (1, sB / np.where(nB > 0, nB, 1)))]))
    dA = np.gradient(sA / nA, times) / 4
    neg = np.nonzero((times > 5) & (dA < 0))[0]                       # A shrinks over [t1, t2]
    i1, i2 = neg[0], neg[-1]

    def shrink(tot):
        return tot[i2, 0, 2] / tot[i2, 0, 0] - tot[i1, 0, 2] / tot[i1, 0, 0]
    d, err = vmc._jackknife(shrink, rec.sums)
    exact = sA[i2] / nA[i2] - sA[i1] / nA[i1]
    assert exact < 0 and d + 3 * err < 0 and abs(d - exact) < 3 * err
    assert np.all(o.diffusion[2, times > 1] > 0)


@pytest.mark.parametrize("T, t_end", [(300.0, 5.0), (77.0, 10.0)])
def test_monte_carlo_equals_moment_solver(T, t_end):
    """Full WS2 model after the pulse: the Monte Carlo's w_v^2(t) of every valley it resolves
    (effective particles >= 2000) and of the total density == the moment solver's (statistically,
    :func:`assert_statistically_equal`); densities too."""
    model = ws2()
    s = vd.Settings(t_end=t_end, dt=0.5, dq=0.04)
    tr, st = vd.solve_moments_at(model, T, s)
    tab = vt.cell_table(model, st.tables)
    ms = vmc.McSettings(40000, 64, 5, np.linspace(0.0, 2000.0, 5))
    times = np.arange(0.0, t_end + 1e-9, 1.0)
    rec = vmc.simulate(tab, vmc.pulse_source(st.tables.formation, st.f, st.source_end, s.pulse.width2), ms,
                       times, st.groups, SerialComm())
    o = vmc.observables(rec, s.pulse.width2, ms.r_edges)
    idx = np.searchsorted(s.times(), times - 1e-9)
    w2, n = tr.width2()[:, idx], tr.n[:, idx]
    zs = []
    for g in range(len(model.valleys) + 1):
        ok = (o.particles[g] >= 2000) & (times >= 1.0)
        zs += list((o.width2[g, ok] - w2[g, ok]) / o.width2_error[g, ok])
        zs += list((o.n[g, ok] - n[g, ok]) / np.maximum(o.n_error[g, ok], 1e-15))
    assert len(zs) >= 20
    assert_statistically_equal(zs)
