"""The bse_moire workflow: output contract, dense == matrix-free, recursion == eigenpairs,
the f-sum rule, modulation plumbing, bad configs."""

from pathlib import Path

import h5py
import numpy as np
import pytest

from hpcx import workflows
from hpcx.bse.moire_cell import valleys_on_grid
from hpcx.errors import ConfigError

from helpers import bse_moire_config as config
from helpers import params_of, require_module, run_config

require_module("slepc4py")

ROOT = Path(__file__).resolve().parents[2]

# seed 004 Table A, 16.1 deg: 12 WSe2 sites (36 orbitals); 3 x 3 k, 4 + 3 bands -> N = 108
# (window edges between non-degenerate levels at every k)


SMALL = config()

CONTRACT = {"eigenvalues": "eV", "oscillator_strength": "", "qp_gap": "eV", "binding_energy": "eV",
            "transitions": "", "transition_energy": "eV", "k_points": "", "spectrum/energy": "eV",
            "spectrum/sigma": "e^2/hbar", "spectrum/sigma_ip": "e^2/hbar", "spectrum/peaks": "eV",
            "supercell/theta_deg": "deg", "supercell/n_sites": "", "supercell/lattice": "Angstrom",
            "supercell/onsite_shift": "eV", "supercell/site_positions": "Angstrom"}


def _run(tmp_path, name, **changes):
    out = run_config(config(**changes), tmp_path / f"{name}.h5")
    with h5py.File(out) as f:
        return {n: f[f"results/{n}"][()] for n in CONTRACT} | {"attrs": dict(f["results"].attrs)}


def test_output_contract_and_seed_cell(tmp_path):
    out = run_config(config(write_amplitudes=True), tmp_path / "m.h5")
    with h5py.File(out) as f:
        r = f["results"]
        for name, units in CONTRACT.items():
            assert r[name].attrs["units"] == units, name
        assert r["supercell/n_sites"][()] == 12 and r["supercell/theta_deg"][()] == pytest.approx(16.1, abs=0.05)
        assert r["supercell/n_orbitals"][()] == 36
        np.testing.assert_allclose(np.linalg.norm(r["supercell/lattice"][0]), np.sqrt(12) * 3.325, rtol=1e-12)
        ev = r["eigenvalues"][()]
        assert ev.shape == (6,) and np.all(np.diff(ev) >= 0) and ev[0] < r["qp_gap"][()]
        assert r.attrs["bse_dimension"] == 108 and r.attrs["operator"] == "dense"
        assert r["transitions"].shape == (108, 3) and r["amplitudes"].shape == (108, 6)
        A = r["amplitudes"][()]
        np.testing.assert_allclose(np.linalg.norm(A, axis=0), 1.0, atol=1e-8)
        assert r["qp_gap"][()] == pytest.approx(r["transition_energy"][()].min())
        # the modulation has zero mean over the primitive moire cell, both orbital classes
        np.testing.assert_allclose(r["supercell/onsite_shift"][()].mean(axis=0), 0.0, atol=1e-15)
        # the lowest bright exciton is a peak of the spectrum
        f_S = r["oscillator_strength"][()]
        bright = ev[np.argmax(f_S)]
        assert np.min(np.abs(r["spectrum/peaks"][()] - bright)) < 2e-3
    from hpcx.plotting import plot_run
    assert sorted(p.name for p in plot_run(out)) == ["m_modulation.png", "m_spectrum.png"]


@pytest.mark.parametrize("solver", ["krylovschur", "gd"])
def test_matrix_free_equals_dense(tmp_path, solver):
    """Same operator two ways: eigenvalues to SLEPc's tolerance, recursion spectra to round-off."""
    dense = _run(tmp_path, "d", operator="dense", tol=1e-10)
    mf = _run(tmp_path, "f", operator="matrix-free", eigensolver=solver, tol=1e-10)
    assert mf["attrs"]["operator"] == "matfree" and dense["attrs"]["operator"] == "dense"
    np.testing.assert_allclose(mf["eigenvalues"], dense["eigenvalues"], atol=1e-8)
    np.testing.assert_allclose(mf["spectrum/energy"], dense["spectrum/energy"], atol=1e-8)
    s = dense["spectrum/sigma"]
    assert np.abs(mf["spectrum/sigma"] - s).max() < 1e-6 * s.max()
    np.testing.assert_allclose(mf["spectrum/sigma_ip"], dense["spectrum/sigma_ip"], rtol=1e-10)


def test_recursion_equals_eigenpair_spectrum_and_f_sum_rule(tmp_path):
    """All 108 eigenpairs: the recursion spectrum equals the eigenpair spectrum; integral of
    E sigma(E) is the same with and without the e-h interaction (the weights |P|^2 are conserved)."""
    grid = dict(energy_min=0.5, energy_max=4.5, energy_points=8001, n_eig=108)
    rec = _run(tmp_path, "r", **grid)
    eig = _run(tmp_path, "e", spectrum="eigenpairs", **grid)
    E = rec["spectrum/energy"]
    s = eig["spectrum/sigma"]
    assert np.abs(rec["spectrum/sigma"] - s).max() < 1e-6 * s.max()
    m_bse = np.trapz(E * rec["spectrum/sigma"], E)
    m_ip = np.trapz(E * rec["spectrum/sigma_ip"], E)
    assert m_bse == pytest.approx(m_ip, rel=1e-6)
    # the interaction moves weight below the gap (6 broadenings below it: no IP weight there)
    below = E < rec["qp_gap"] - 6 * 0.01
    assert np.trapz(rec["spectrum/sigma"][below], E[below]) > 0.1 * np.trapz(rec["spectrum/sigma"], E)
    assert np.trapz(rec["spectrum/sigma_ip"][below], E[below]) < 1e-6 * np.trapz(rec["spectrum/sigma_ip"], E)


def test_one_polarisation_equals_the_average_in_a_C3_cell(tmp_path):
    # N = 108 <= n_lanczos: both recursions are exact, so sigma_x = (sigma_x + sigma_y)/2 holds
    # to rounding if and only if the cell is C3-symmetric (sigma_xx = sigma_yy); the
    # independent-particle spectrum (all transitions, both axes) is unchanged
    avg = _run(tmp_path, "avg")
    one = _run(tmp_path, "x", polarization="x")
    top = avg["spectrum/sigma"].max()
    np.testing.assert_allclose(one["spectrum/sigma"], avg["spectrum/sigma"], rtol=0, atol=1e-9 * top)
    np.testing.assert_allclose(one["spectrum/sigma_ip"], avg["spectrum/sigma_ip"], rtol=1e-12)


def test_hole_fixed_density(tmp_path):
    """Densities normalised, degenerate (K/K') members averaged (equal), the 1s electron density
    peaks on the hole's site and is C3-symmetric about it."""
    out = run_config(config(wavefunctions=4), tmp_path / "wf.h5")
    with h5py.File(out) as f:
        r = f["results"]
        dens, pos, ev = r["wavefunction/density"][()], r["wavefunction/positions"][()], r["eigenvalues"][()]
        hole = int(r["wavefunction"].attrs["hole_site"])
        assert dens.shape == (4, 9, 12) and pos.shape == (9, 12, 3)
        np.testing.assert_allclose(dens.sum(axis=(1, 2)), 1.0, rtol=1e-12)
        assert abs(ev[1] - ev[0]) < 1e-6                       # the K/K' pair: one multiplet average
        np.testing.assert_array_equal(dens[0], dens[1])
        np.testing.assert_allclose(pos[0, hole], r["wavefunction"].attrs["hole_position_angstrom"], atol=1e-12)
        assert np.unravel_index(dens[0].argmax(), dens[0].shape) == (0, hole)
        # C3 about the hole (an AA metal site at r = 0): the 1s density is invariant under 120 deg rotation
        xy = pos.reshape(-1, 3)[:, :2]
        c, s_ = np.cos(2 * np.pi / 3), np.sin(2 * np.pi / 3)
        rot = xy @ np.array([[c, s_], [-s_, c]])
        d0 = dens[0].ravel()
        inner = np.linalg.norm(xy, axis=1) < 8.0           # well inside the minimum-image cell
        for p, d in zip(rot[inner], d0[inner]):
            j = np.argmin(np.linalg.norm(xy - p, axis=1))
            assert np.linalg.norm(xy[j] - p) < 1e-6 and d == pytest.approx(d0[j], rel=1e-6)
        # the hole density: normalised and C3-symmetric about the AA point (in this 11.5 A cell
        # the exciton cannot localise: the trapping at AA shows at small angles, docs/results)
        rho = r["wavefunction/hole_density"][()]
        sites_xy = r["supercell/site_positions"][()][:, :2]
        assert rho.shape == (4, 12)
        np.testing.assert_allclose(rho.sum(axis=1), 1.0, rtol=1e-10)
        assert np.linalg.norm(sites_xy[hole]) < 1e-9
        assert np.ptp(rho[0]) > 1e-3 * rho[0].mean()                 # the modulation is felt
        A = r["supercell/lattice"][()][:2, :2]
        frac = np.linalg.solve(A.T, (sites_xy @ rot_matrix().T).T).T          # rotated sites, wrapped
        image = np.linalg.solve(A.T, sites_xy.T).T
        for a, fa in enumerate(frac):
            d = (image - fa + 0.5) % 1.0 - 0.5
            b = np.argmin(np.linalg.norm(d @ A, axis=1))
            assert np.linalg.norm(d[b] @ A) < 1e-6 and rho[0, b] == pytest.approx(rho[0, a], rel=1e-6)
    from hpcx.plotting import plot_run
    names = [p.name for p in plot_run(out)]
    assert "wf_wavefunction.png" in names and "wf_hole_density.png" in names


def test_hole_density_is_uniform_in_the_flat_layer(tmp_path):
    # without modulation every metal site of the supercell is equivalent (a primitive translation):
    # the multiplet-averaged hole density of the K/K' ground pair is 1/n_site on every site.  The
    # folded flat cell has degenerate levels at every window edge (no 4 + 3 ... 6 + 6 window avoids
    # them) and cutting them breaks the translation at the 1e-6 level: rtol 2e-5, against > 1e-3
    # with the modulation (test_hole_fixed_density)
    out = run_config(config(wavefunctions=2, modulation=False), tmp_path / "flat.h5")
    with h5py.File(out) as f:
        rho = f["results/wavefunction/hole_density"][()]
    np.testing.assert_allclose(rho, 1.0 / 12, rtol=2e-5)


def rot_matrix():
    c, s = np.cos(2 * np.pi / 3), np.sin(2 * np.pi / 3)
    return np.array([[c, -s], [s, c]])


def test_modulation_switches(tmp_path):
    off = _run(tmp_path, "off", modulation=False)
    zero = _run(tmp_path, "zero", modulation_scale=0.0)
    on = _run(tmp_path, "on")
    np.testing.assert_allclose(zero["eigenvalues"], off["eigenvalues"], atol=1e-9)
    assert np.all(off["supercell/onsite_shift"] == 0)
    # the AA-stacked regions have the smaller local gap (the ASSUMED data: -90 meV at AA)
    gap = on["supercell/onsite_shift"][:, 1] - on["supercell/onsite_shift"][:, 0]
    assert gap.min() < -0.02 and abs(gap.mean()) < 1e-12
    assert not np.allclose(on["eigenvalues"], off["eigenvalues"], atol=1e-4)


def test_cell_from_indices_equals_theta():
    ca = params_of(SMALL).problem.cell
    cb = params_of(config(theta=None, cell_m=[2, 2], cell_n=[1, 3])).problem.cell
    assert ca.n_sites == cb.n_sites == 12 and ca.theta_deg == pytest.approx(cb.theta_deg)


@pytest.mark.parametrize("changes,key,words", [
    (dict(modulation_data="WSe2/MoS9"), "bse_moire.modulation_data", "unknown entry"),
    (dict(cell_m=[8, 2], cell_n=[9, 1]), "bse_moire.theta", "not both"),
    (dict(theta=-0.5), "bse_moire.theta", "[0, 30]"),
    (dict(theta=None), "bse_moire.theta", "set theta"),
    (dict(theta=2.8, max_sites=100), "bse_moire.theta", "raise max_sites"),
    (dict(theta=None, cell_m=[8], cell_n=[9, 1]), "bse_moire.cell_m", "two integers"),
    (dict(theta=None, cell_m=[8, 2], cell_n=[3, 1]), "bse_moire.cell_n", "strain"),
    (dict(valence_bands=12), "bse_moire.valence_bands", "at most 11"),
    (dict(conduction_bands=40), "bse_moire.conduction_bands", "at most 23"),
    (dict(n_eig=200), "bse_moire.n_eig", "N = 108"),
    (dict(theta=None, cell_m=[2, 2], cell_n=[1, 3], operator="dense", memory_limit_gib=1e-6), "bse_moire.operator",
     "GiB per rank"),
    (dict(operator="dense", eigensolver="gd"), "bse_moire.eigensolver", "matrix-free"),
    (dict(energy_min=2.0, energy_max=1.0), "bse_moire.energy_max", "energy_min"),
    (dict(wavefunctions=7), "bse_moire.wavefunctions", "n_eig = 6"),
    (dict(hole_site=12), "bse_moire.hole_site", "12 sites"),
    (dict(theta=1.0, max_sites=200000, memory_limit_gib=4.0), "bse_moire.max_sites", "GiB per rank"),
])
def test_bad_config(changes, key, words):
    with pytest.raises(ConfigError) as err:
        params_of(config(**changes), "bad.toml")
    msg = str(err.value)
    assert key in msg and words in msg and "bad.toml" in msg


def test_example_config_validates():
    path = ROOT / "examples" / "bse_moire.toml"
    p = params_of(path.read_text(), str(path), comm_size=2)
    # the example is seed 004 Table A's 5.68 deg cell (84 W sites) on the matrix-free operator
    cell = p.problem.cell
    assert cell.n_sites == 84 and abs(abs(cell.theta_deg) - 5.68) < 0.05
    assert p.operator == "matfree"


def test_memory_estimate_includes_the_cell_search():
    """max_sites = 2e5 would compare ~1e10 vector pairs (hundreds of GiB): refused from the sizes
    in well under a second; the default search's share of the estimate is what tracemalloc
    measures for it (34 B per pair)."""
    import time
    import tracemalloc

    from hpcx.bse.liu import liu_model
    from hpcx.bse.memory import cell_search_bytes
    from hpcx.bse.modulation import closest_cell, modulation_data, search_candidates
    start = time.perf_counter()
    with pytest.raises(ConfigError, match="max_sites.*GiB per rank"):
        params_of(config(theta=1.0, max_sites=200000, memory_limit_gib=64.0))
    assert time.perf_counter() - start < 5.0
    a_other = modulation_data("WSe2/WS2").a_other
    a2d = liu_model("WSe2", soc=False).lattice[:2, :2]
    n = search_candidates(float(np.linalg.norm(a2d[0])), a_other, 1500)
    tracemalloc.start()
    closest_cell(a2d, a_other, 5.68, 1500)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert 0.9 < cell_search_bytes(n) / peak < 1.2
    p = params_of(config(theta=5.68, k_grid=1, valence_bands=2, conduction_bands=2, n_eig=2))
    assert workflows.load("bse_moire").estimate_memory(p, 1) >= cell_search_bytes(n)


def test_valleys_on_grid_follow_the_folding_of_K():
    """K = (2/3, 1/3) folds to the moire Gamma when m1 - m2 is a multiple of 3, else to the moire K:
    then only grids divisible by 3 contain the band edges (checked against the band energies)."""
    from hpcx.bse.supercell import unfolded_kpoints
    for theta, m, grids in [(16.1, (2, 2), {1: True, 2: True}), (2.8, (13, 3), {2: False, 3: True})]:
        cell = params_of(config(theta=theta, max_sites=300)).problem.cell
        assert cell.m == m
        for n, expect in grids.items():
            assert valleys_on_grid(cell, n) is expect
        # independent check: the unfolded points of the moire Gamma contain K iff m1 = m2 mod 3
        k = unfolded_kpoints(cell.M, (0.0, 0.0))[:, :2] % 1.0
        has_K = np.any(np.all(np.abs(k - [2 / 3, 1 / 3]) < 1e-9, axis=1))
        assert has_K == ((m[0] - m[1]) % 3 == 0)


@pytest.fixture(scope="module")
def w90_supercell(tmp_path_factory):
    """The modulated 16.1 deg supercell of SMALL written as Wannier90 files: (directory, Problem)."""
    from hpcx.formats.wannier90 import write_wannier90
    prob = params_of(SMALL).problem
    d = tmp_path_factory.mktemp("w90")
    write_wannier90(prob.model.to_tbmodel(), d, "moire", species=["W"] * prob.n_sites,
                    atom_of_orbital=prob.site_of_orbital)
    return d, prob


def w90_config(d, prob, **changes):
    return config(**{"source": "wannier90", "theta": None, "wannier90_dir": str(d), "seedname": "moire",
                     "use_ws_distance": False, "n_occupied": prob.n_occ, "onsite_length": 3.325, **changes})


@pytest.mark.parametrize("operator", ["dense", "matrix-free"])
def test_wannier90_supercell_goes_through_the_same_path(tmp_path, w90_supercell, operator):
    # a supercell read from Wannier90 files (here: the twisted cell written out) gives the twisted
    # run's excitons: eigenvalues to the solver tolerance, the spectrum to the recursion's round-off
    d, prob = w90_supercell
    ref = _run(tmp_path, "ref", operator=operator, tol=1e-11)
    out = run_config(w90_config(d, prob, operator=operator, tol=1e-11, wavefunctions=2), tmp_path / "w.h5")
    with h5py.File(out) as f:
        r = f["results"]
        assert r.attrs["source"] == "wannier90" and r["supercell/n_sites"][()] == 12
        assert "supercell/theta_deg" not in r
        np.testing.assert_allclose(r["eigenvalues"][()], ref["eigenvalues"], rtol=1e-10)
        np.testing.assert_allclose(r["oscillator_strength"][()], ref["oscillator_strength"], rtol=1e-6, atol=1e-9)
        assert r["qp_gap"][()] == pytest.approx(ref["qp_gap"], rel=1e-12)
        top = ref["spectrum/sigma"].max()
        np.testing.assert_allclose(r["spectrum/sigma"][()], ref["spectrum/sigma"], atol=1e-7 * top)
        np.testing.assert_allclose(r["wavefunction/hole_density"][()].sum(axis=1), 1.0, rtol=1e-10)
    from hpcx.plotting import plot_run
    assert "w_spectrum.png" in [p.name for p in plot_run(out)]


@pytest.mark.parametrize("changes,key,words", [
    (dict(wannier90_dir="/nonexistent/w90"), "bse_moire.wannier90_dir", "no such directory"),
    (dict(seedname="other"), "bse_moire.seedname", "other_hr.dat"),
    (dict(use_ws_distance=True), "bse_moire.seedname", "use_ws_distance = false"),
    (dict(onsite_length=0.0), "bse_moire.onsite_length", "required"),
    (dict(n_occupied=0), "bse_moire.n_occupied", "1..35"),
    (dict(theta=16.1), "bse_moire.theta", "brings its own cell"),
    (dict(mid_gap=[0.1, 0.2]), "bse_moire.mid_gap", "one energy"),
    (dict(valence_bands=12), "bse_moire.valence_bands", "at most 11"),
])
def test_bad_wannier90_config(w90_supercell, changes, key, words):
    with pytest.raises(ConfigError) as err:
        params_of(w90_config(*w90_supercell, **changes), "bad.toml")
    msg = str(err.value)
    assert key in msg and words in msg and "bad.toml" in msg


def test_wannier90_fixture_equals_the_bse_workflow(tmp_path):
    # real DFT input (the WSe2 Wannier90 fixture, with its wsvec shifts) through bse_moire's
    # matrix-free operator equals the `bse` workflow's dense Cython assembly of the same BSE
    # (direct + exchange, 9 x 9 k, 2 + 2 bands): two implementations, one set of eigenvalues
    w90 = ROOT / "examples" / "data" / "wse2-wannier90"
    common = (f'wannier90_dir = "{w90}"\nseedname = "WSe2"\nn_occupied = 7\nr0 = 45.09\nepsilon = 1.0\nonsite_u = 1.0\n'
              'onsite_length = 3.32\nexchange = true\nvalence_bands = 2\nconduction_bands = 2\nk_grid = 9\n'
              'n_eig = 12\ntol = 1e-11\n')
    bse = run_config('[run]\nworkflow = "bse"\n[bse]\nsource = "wannier90"\nwavefunctions = 0\n' + common,
                     tmp_path / "bse.h5")
    moire = run_config('[run]\nworkflow = "bse_moire"\n[bse_moire]\nsource = "wannier90"\noperator = "matrix-free"\n'
                       'spectrum = "eigenpairs"\n' + common, tmp_path / "moire.h5")
    with h5py.File(bse) as a, h5py.File(moire) as b:
        np.testing.assert_allclose(b["results/eigenvalues"][()], a["results/eigenvalues"][()][:12], rtol=1e-10)
        assert b["results/supercell/n_sites"][()] == 3                  # W and two Se carry Wannier functions
        assert a["results/wavefunction/density"].shape[0] == 0         # wavefunctions = 0 is allowed in `bse`


def test_wannier90_example_resolves_its_relative_path_and_runs(tmp_path):
    from hpcx import api
    from hpcx.parallel import SerialComm
    out = api.run(ROOT / "examples" / "bse_moire_wannier90.toml", tmp_path / "ex.h5", comm=SerialComm())
    with h5py.File(out) as f:
        r = f["results"]
        assert r.attrs["source"] == "wannier90" and r.attrs["bse_dimension"] == 576
        assert r["binding_energy"][()] > 0.3                   # the WSe2 A exciton, free-standing (E_b ~ 0.5 eV)


def test_soc_spin_up_block_equals_the_full_spinful_basis(tmp_path):
    # the three-band SOC is diagonal in s_z: without exchange the spinful BSE splits into up-up and
    # down-down blocks (time-reversal copies, equal spectra) and dark spin-flip ones, so the spin-up
    # block with spin factor 2 gives the full basis' spectrum.  The windows (3 + 11 spin-up bands,
    # 6 + 22 spinful) select the same bands at every k (each spin's kept bands lie above/below the
    # other's dropped ones).  The start vector conj(P) has equal up-up and down-down parts, so Lanczos
    # builds the same tridiagonal matrix in both bases: equal spectra at any number of steps
    up = _run(tmp_path, "up", soc=True, valence_bands=3, conduction_bands=11, n_lanczos=150, n_eig=4)
    full = _run(tmp_path, "full", soc=True, soc_basis="full", valence_bands=6, conduction_bands=22,
                n_lanczos=150, n_eig=4)
    assert up["attrs"]["bse_dimension"] == 297 and full["attrs"]["bse_dimension"] == 1188
    assert up["attrs"]["spin_factor"] == 2 and full["attrs"]["spin_factor"] == 1
    top = full["spectrum/sigma"].max()
    np.testing.assert_allclose(up["spectrum/sigma"], full["spectrum/sigma"], rtol=0, atol=1e-8 * top)
    np.testing.assert_allclose(up["spectrum/sigma_ip"], full["spectrum/sigma_ip"], rtol=1e-10)
    assert up["eigenvalues"][0] == pytest.approx(full["eigenvalues"][0], abs=1e-8)
