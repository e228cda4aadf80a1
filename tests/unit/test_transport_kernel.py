"""Monte Carlo push kernel against its NumPy twin: Philox known answers, trajectories, alias tables,
sampling sums, sampling statistics."""

import numpy as np
import pytest
from scipy import stats

from hpcx._kernels import twin
from hpcx.physics import mc_table as mt

from helpers import require_kernel

ref = twin("mc_push")

# Random123 kat_vectors for philox4x32-10: (counter, key, output)
KAT = [((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
       ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
       ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1))]


@pytest.fixture(scope="module")
def ker():
    return require_kernel("mc_push")


def random_table(n=30, seed=0, decay_fraction=0.2):
    rng = np.random.default_rng(seed)
    W = rng.exponential(size=(n, n)) * (rng.random((n, n)) > 0.5)
    total, indptr, idx, cum = mt.csr_from_rates(W)
    decay = np.where(rng.random(n) < decay_fraction, 0.1, 0.0)
    return mt.McTable(rng.normal(size=n), rng.normal(size=(n, 2)) * 10, total, indptr, idx, cum,
                      np.zeros(n, np.int64), ("g",), decay=decay)


def particles(n):
    return dict(state=np.zeros(n, np.int64), x=np.zeros(n), y=np.zeros(n), t=np.zeros(n), tn=np.zeros(n),
                ctr=np.zeros(n, np.uint64))


def run(mod, table, n, p0, times, sampler, seed=11, sigma=50.0):
    arr = particles(n)
    cdf = mt.initial_cdf(table, "uniform", e0=np.inf)
    mod.initialise(seed, p0, sigma, cdf, table.gout, *arr.values())
    packed = mod.build_alias(table.indptr, table.indices, table.cumulative)
    ev = []
    for T in times:
        ev.append(mod.push(seed, p0, T, *arr.values(), table.vx, table.vy, table.gout, table.decay, table.indptr,
                           table.indices, table.cumulative, packed, sampler))
    return arr, ev


@pytest.mark.parametrize("ctr, key, out", KAT)
def test_philox_known_answers(ker, ctr, key, out):
    assert ker.philox4x32(*ctr, *key) == out
    assert ref.philox4x32(*ctr, *key) == out


def test_uniforms_equal_reference_and_are_uniform(ker):
    pid = np.arange(50000, dtype=np.int64) + 2 ** 40
    ctr = np.full(50000, 3, dtype=np.uint64)
    u1, u2 = ker.uniforms(99, pid, ctr)
    r1, r2 = ref.uniforms(99, pid, ctr)
    np.testing.assert_array_equal(u1, r1)
    np.testing.assert_array_equal(u2, r2)
    # uniform on [0, 1) and independent: KS test and correlation at the 1e-3 level
    assert stats.kstest(u1, "uniform").pvalue > 1e-3 and stats.kstest(u2, "uniform").pvalue > 1e-3
    assert abs(np.corrcoef(u1, u2)[0, 1]) < 4.0 / np.sqrt(len(u1))
    # a different particle, counter or seed is a different stream
    assert not np.array_equal(u1, ker.uniforms(98, pid, ctr)[0])
    assert not np.array_equal(u1, ker.uniforms(99, pid + 1, ctr)[0])
    assert not np.array_equal(u1, ker.uniforms(99, pid, ctr + np.uint64(1))[0])


@pytest.mark.parametrize("sampler", [ref.SAMPLER_SEARCH, ref.SAMPLER_ALIAS])
def test_kernel_equals_numpy_reference(ker, sampler):
    # same random numbers -> same trajectories: discrete states, draw counters and event counts
    # exactly; positions to round-off (the compiler may contract x + v dt into an FMA)
    table = random_table()
    a, ev_a = run(ker, table, 2000, 7, (0.3, 1.0, 2.5), sampler)
    b, ev_b = run(ref, table, 2000, 7, (0.3, 1.0, 2.5), sampler)
    assert ev_a == ev_b and ev_a[-1][0] > 10000 and ev_a[-1][1] > 10
    for key in ("state", "ctr"):
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    for key in ("x", "y", "t", "tn"):
        np.testing.assert_allclose(a[key], b[key], rtol=1e-12, atol=1e-9, err_msg=key)
    assert np.all(a["t"][a["state"] >= 0] == 2.5)


def test_particle_blocks_are_independent_of_the_split(ker):
    # a block of particles pushed as one or as two ranks' blocks (p0 offsets) is the same
    table = random_table(seed=1)
    whole, _ = run(ker, table, 1000, 0, (1.0, 2.0), ker.SAMPLER_ALIAS)
    lo, _ = run(ker, table, 400, 0, (1.0, 2.0), ker.SAMPLER_ALIAS)
    hi, _ = run(ker, table, 600, 400, (1.0, 2.0), ker.SAMPLER_ALIAS)
    for key in whole:
        np.testing.assert_array_equal(whole[key], np.concatenate([lo[key], hi[key]]), err_msg=key)


def test_alias_tables_of_kernel_and_twin_are_identical(ker):
    # the same operations in the same order: identical tables (so both samplers give identical
    # trajectories on both backends), also with empty rows and a one-entry row
    table = random_table(n=40, seed=2)
    W = np.zeros((4, 4))
    W[1, 2] = 1.0
    W[3] = [0.2, 0.5, 0.0, 0.3]
    small = mt.csr_from_rates(W)[1:]
    for indptr, idx, cum in ((table.indptr, table.indices, table.cumulative), small):
        np.testing.assert_array_equal(ker.build_alias(indptr, idx, cum), ref.build_alias(indptr, idx, cum))


def test_alias_tables_reproduce_rows(ker):
    table = random_table(n=40, seed=2)
    packed = table.alias(ker)
    prob, alias = packed[:, 0], packed[:, 2].astype(np.int64)
    np.testing.assert_array_equal(packed[:, 1], table.indices)
    assert np.all((prob >= 0) & (prob <= 1.0 + 1e-12))
    for i in range(table.n):
        a, b = table.indptr[i], table.indptr[i + 1]
        final, p = table.row(i)
        implied = np.zeros(table.n)
        np.add.at(implied, table.indices[a:b], prob[a:b] / (b - a))
        np.add.at(implied, alias[a:b], (1.0 - prob[a:b]) / (b - a))
        expect = np.zeros(table.n)
        expect[final] = p
        np.testing.assert_allclose(implied, expect, atol=1e-13)


@pytest.mark.parametrize("sampler", [0, 1])
def test_first_transition_statistics(ker, sampler):
    # state 0 decays with rate 2/ps into absorbing states 1..n-1 (no out-rate): every particle
    # makes one jump; final states follow row 0 (chi^2) and the survival in state 0 is
    # exp(-2 t) (binomial), the flight-time law -ln(1 - u)/Gamma
    n, N = 12, 40000
    rng = np.random.default_rng(4)
    w = rng.random(n - 1) + 0.1
    W = np.zeros((n, n))
    W[0, 1:] = 2.0 * w / w.sum()
    total, indptr, idx, cum = mt.csr_from_rates(W)
    table = mt.McTable(np.zeros(n), np.zeros((n, 2)), total, indptr, idx, cum, np.zeros(n, np.int64), ("g",))
    arr = particles(N)
    ker.initialise(3, 0, 0.0, mt.initial_cdf(table, "state", state=0), table.gout, *arr.values())
    args = (table.vx, table.vy, table.gout, table.decay, table.indptr, table.indices, table.cumulative,
            table.alias(ker), sampler)
    ker.push(3, 0, 0.4, *arr.values(), *args)
    left = np.sum(arr["state"] == 0)
    assert stats.binomtest(int(left), N, np.exp(-0.8)).pvalue > 1e-3
    ker.push(3, 0, 50.0, *arr.values(), *args)
    counts = np.bincount(arr["state"], minlength=n)
    assert counts[0] == 0
    assert stats.chisquare(counts[1:], N * w / w.sum()).pvalue > 1e-3


def test_sampling_kernel_equals_reference(ker):
    # moments, occupations and x-profiles: the same sums in the same (particle) order
    rng = np.random.default_rng(5)
    n, ns, G, B, nb = 5000, 30, 3, 4, 17
    state = rng.integers(-1, ns, n)
    x, y, x0, y0 = (rng.normal(scale=300.0, size=n) for _ in range(4))
    batch = np.sort(rng.integers(0, B, n))
    group, energy = rng.integers(0, G, ns), rng.normal(size=ns)
    out = []
    for mod in (ker, ref):
        mom, occ, prof = np.zeros((B, G, 10)), np.zeros(ns, np.int64), np.zeros((G, nb), np.int64)
        mod.sample(state, x, y, x0, y0, batch, group, energy, -500.0, 1000.0 / nb, mom, occ, prof)
        out.append((mom, occ, prof))
    for a, b in zip(*out):
        np.testing.assert_array_equal(a, b)
    mom, occ, prof = out[0]
    live = state >= 0
    assert mom[..., 0].sum() == live.sum() == occ.sum()
    assert prof.sum() == np.sum(live & (x >= -500.0) & (x < 500.0))
    np.testing.assert_allclose(mom[..., 1].sum(), x[live].sum(), rtol=1e-12)


def test_engine_with_reference_kernel(ker):
    # the whole ensemble (initialise, push, sample) on the NumPy reference = on the Cython kernel
    from hpcx.parallel import SerialComm
    from hpcx.physics import mc_engine as me
    table = random_table(seed=6)
    params = me.McParams(3000, 6, 17, 100.0, "alias", np.linspace(-400.0, 400.0, 21))
    cdf = mt.initial_cdf(table, "uniform", e0=np.inf)
    times = np.linspace(0.0, 3.0, 7)
    a = me.simulate(table, params, times, cdf, SerialComm())
    b = me.simulate(mt.McTable(table.energy, table.velocity, table.total_rate, table.indptr, table.indices,
                               table.cumulative, table.group, table.group_names, decay=table.decay),
                    params, times, cdf, SerialComm(), kernel=ref)
    np.testing.assert_array_equal(a.occupation, b.occupation)
    np.testing.assert_array_equal(a.events, b.events)
    np.testing.assert_allclose(a.moments, b.moments, rtol=1e-11)


@pytest.mark.parametrize("kernel", ["compiled", "reference"])
def test_long_intervals_pushed_in_pieces_give_the_same_record(ker, kernel, monkeypatch):
    # a few hundred expected events per piece: every interval is pushed in several pieces with a
    # callback between them; the record is bit-identical to whole-interval pushes, the callbacks'
    # counts grow to the next sample's, and a stop between two pieces (the ensemble partly
    # pushed, its particle arrays saved) continues to the same record
    from hpcx.parallel import SerialComm
    from hpcx.physics import mc_engine as me
    mod = ker if kernel == "compiled" else ref
    table = random_table(seed=6)
    params = me.McParams(3000, 6, 17, 100.0, "alias", np.linspace(-400.0, 400.0, 21))
    cdf = mt.initial_cdf(table, "uniform", e0=np.inf)
    times = np.linspace(0.0, 3.0, 7)
    whole = me.simulate(table, params, times, cdf, SerialComm(), kernel=mod)
    monkeypatch.setattr(me, "EVENTS_PER_PIECE", 400)
    seen = []

    def on_piece(k, record, ens, pushed, counts):
        seen.append((k, pushed, counts[0]))

    pieces = me.simulate(table, params, times, cdf, SerialComm(), kernel=mod, on_piece=on_piece)
    for name in ("moments", "occupation", "profiles", "events", "decays"):
        np.testing.assert_array_equal(getattr(pieces, name), getattr(whole, name), err_msg=name)
    assert len(seen) > 6 * 5 and {k for k, _, _ in seen} == set(range(1, 7))
    for k, pushed, events in seen:
        assert 0 < pushed < params.particles and whole.events[k - 1] <= events <= whole.events[k]

    class Stop(Exception):
        pass

    def stop_in_interval_4(k, record, ens, pushed, counts):
        if k == 4:
            saved.update(record=record, particles=ens.gather_state(), counts=counts)
            raise Stop

    saved = {}
    with pytest.raises(Stop):
        me.simulate(table, params, times, cdf, SerialComm(), kernel=mod, on_piece=stop_in_interval_4)
    t = saved["particles"]["t"][saved["particles"]["state"] >= 0]
    assert np.any(t == times[4]) and np.any(t == times[3])          # partly pushed
    resumed = me.simulate(table, params, times, cdf, SerialComm(), saved["record"], 4, saved["particles"],
                          kernel=mod, counts=saved["counts"], on_piece=on_piece)
    for name in ("moments", "occupation", "profiles", "events", "decays"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(whole, name), err_msg=name)
