"""Wannier90 reader: reproduces Wannier90's own band interpolation; corrupt files fail clearly."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from hpcx.errors import InputError
from hpcx.formats.wannier90 import load_wannier90, read_hr, read_win, read_wout_centres

FIXTURE = Path(__file__).resolve().parents[2] / "examples" / "data" / "wse2-wannier90"  # copy of ../shared/data


@pytest.fixture(scope="module")
def wse2():
    return load_wannier90(FIXTURE, "WSe2")


def test_reproduces_wannier90_band_interpolation(wse2):
    """WSe2_band.dat is Wannier90's interpolation (use_ws_distance) along G-M-K-G: all 11
    bands agree to 1e-4 eV (hr.dat stores 6 decimals, so ~1e-5 is the floor).  The x axis
    of band.dat is the cumulative path length |dk| in 1/Angstrom including the 2 pi."""
    model, info = wse2
    kpt = np.loadtxt(FIXTURE / "WSe2_band.kpt", skiprows=1)[:, :3]
    raw = np.loadtxt(FIXTURE / "WSe2_band.dat")
    n_k = len(kpt)
    ref = raw[:, 1].reshape(-1, n_k).T
    assert ref.shape == (n_k, model.n_orb) == (274, 11)
    e, _ = model.bands(kpt)
    assert np.abs(e - ref).max() < 1e-4
    k_cart = model.cartesian(kpt)
    path = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(k_cart, axis=0), axis=1))])
    np.testing.assert_allclose(path, raw[:n_k, 0], atol=1e-5)
    assert info["mp_grid"] == (9, 9, 1)
    assert model.hermiticity_error() < 1e-12


def test_sum_rule_and_centres(wse2):
    """sum_R 1/ndegen = number of k-points; atom-mapped centres are the W and Se sites."""
    nw, R, deg, H = read_hr(FIXTURE / "WSe2_hr.dat")
    assert nw == 11 and np.sum(1.0 / deg) == pytest.approx(81)
    model, info = wse2
    win = read_win(FIXTURE / "WSe2.win")
    assert win.species == ("W", "Se", "Se")
    assert [p[1] for p in win.projections[:5]] == ["dz2", "dxz", "dyz", "dx2-y2", "dxy"]
    np.testing.assert_allclose(model.positions[:5], np.repeat(win.atoms[:1], 5, axis=0))
    wc = read_wout_centres(FIXTURE / "WSe2.wout")
    assert np.abs(wc[:5] - win.atoms[0]).max() < 0.13     # W d centres sit on the W atom
    assert model.labels[0] == "W1:dz2" and model.labels[5].startswith("Se2:")


def test_without_ws_shifts_differs(wse2):
    """The WS shifts matter at the 10 meV level, so the test above really checks them."""
    model, _ = wse2
    plain, _ = load_wannier90(FIXTURE, "WSe2", use_ws_distance=False)
    k = np.array([[1 / 3, 1 / 3, 0], [0.5, 0, 0]])
    assert np.abs(model.bands(k)[0] - plain.bands(k)[0]).max() > 1e-3


def _copy(tmp_path):
    for f in FIXTURE.glob("WSe2*"):
        shutil.copy(f, tmp_path / f.name)
        (tmp_path / f.name).chmod(0o644)
    return tmp_path


def _edit(path, fn):
    lines = path.read_text().splitlines()
    path.write_text("\n".join(fn(lines)) + "\n")


@pytest.mark.parametrize("name, edit, fragment", [
    ("WSe2_hr.dat", lambda ls: ls[:-5], "matrix-element lines, expected"),
    ("WSe2_hr.dat", lambda ls: [ls[0], "12"] + ls[2:], "matrix-element lines, expected"),
    ("WSe2_hr.dat", lambda ls: ls[:3] + ls[4:], "degeneracy weights"),
    ("WSe2_hr.dat", lambda ls: ls[:10] + [ls[10].replace("0.001626", "abc")] + ls[11:], "expected 'R1 R2 R3"),
    ("WSe2_hr.dat", lambda ls: ls[:3] + [ls[3].replace("3", "4", 1)] + ls[4:], "sum of 1/ndegen"),
    ("WSe2_wsvec.dat", lambda ls: ls[:1] + ls[4:], "wsvec"),
    ("WSe2.win", lambda ls: [l for l in ls if "mp_grid" not in l], "no mp_grid"),
    ("WSe2.win", lambda ls: [l.replace("num_wann          =  11", "num_wann = 10") for l in ls], "num_wann"),
    ("WSe2.win", lambda ls: [l for l in ls if "End Unit_Cell_Cart" not in l], "never closed"),
    ("WSe2.win", lambda ls: [l for l in ls if not l.startswith("W ")], "projections give"),
    ("WSe2.wout", lambda ls: [l for l in ls if "WF centre and spread   11" not in l], "11"),
    ("WSe2.wout", lambda ls: [l for l in ls if "Final State" not in l], "no 'Final State'"),
])
def test_corrupt_files_raise_clear_errors(tmp_path, name, edit, fragment):
    d = _copy(tmp_path)
    _edit(d / name, edit)
    with pytest.raises(InputError) as info:
        load_wannier90(d, "WSe2")
    message = str(info.value)
    assert fragment in message
    assert str(d) in message                  # names the file


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-Infinity", "1e999"])
def test_non_finite_hopping_names_the_file_and_line(tmp_path, value):
    d = _copy(tmp_path)
    lines = (d / "WSe2_hr.dat").read_text().splitlines()
    words = lines[20].split()
    words[5] = value
    lines[20] = "  ".join(words)
    (d / "WSe2_hr.dat").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as info:
        load_wannier90(d, "WSe2")
    assert str(info.value).startswith(f"{d / 'WSe2_hr.dat'}: line 21: non-finite number")


def test_non_finite_coordinate_in_win(tmp_path):
    d = _copy(tmp_path)
    _edit(d / "WSe2.win", lambda ls: [l.replace("0.0000000000", "nan", 1) if l.startswith("Se ") else l for l in ls])
    with pytest.raises(InputError, match=r"WSe2.win: line \d+: non-finite number"):
        load_wannier90(d, "WSe2")


def test_missing_file(tmp_path):
    d = _copy(tmp_path)
    (d / "WSe2_wsvec.dat").unlink()
    with pytest.raises(InputError, match="WSe2_wsvec.dat: no such file"):
        load_wannier90(d, "WSe2")


def test_hopping_cutoff_is_hermitian_and_bounded():
    # dropping |H_mn(R)| <= c keeps H(k) Hermitian (partners go together) and moves every band by at
    # most ||dH(k)||_2 (Weyl's inequality), itself at most the row sums of the dropped magnitudes
    from hpcx.bse.supercell import from_tbmodel
    model, _ = load_wannier90(FIXTURE, "WSe2")
    full = from_tbmodel(model)
    cut = 2e-3
    sparse = from_tbmodel(model, cutoff=cut)
    assert sparse.nnz < full.nnz
    rows = (np.abs(model.H_Rij) * (np.abs(model.H_Rij) <= cut)).sum(axis=(0, 2)).max()
    for k in ((0.0, 0.0), (1 / 3, 2 / 3), (0.123, 0.321)):
        hs, hf = sparse.hk(k).toarray(), full.hk(k).toarray()
        assert np.abs(hs - hs.conj().T).max() < 1e-12
        norm = np.linalg.norm(hs - hf, 2)
        shift = np.abs(np.linalg.eigvalsh(hs) - np.linalg.eigvalsh(hf)).max()
        assert 0 < shift <= norm + 1e-12 and norm <= rows + 1e-12


def test_vectorised_wsvec_flattening_equals_the_reference():
    # the fast path (C-parsed integers, vectorised accumulation) against the entry-by-entry reference
    from hpcx.formats import wannier90 as w
    nw, R, deg, H = read_hr(FIXTURE / "WSe2_hr.dat")
    ref_R, ref_H = w.flatten_ws(R, deg, H, w.read_wsvec(FIXTURE / "WSe2_wsvec.dat", nw))
    table = w.read_wsvec_table(FIXTURE / "WSe2_wsvec.dat", nw)
    assert len(table) == len(R) * nw * nw and table.counts.max() > 1     # the fixture has multi-shift entries
    new_R, new_H = w.flatten_ws_table(R, deg, H, table)
    np.testing.assert_array_equal(new_R, ref_R)
    np.testing.assert_allclose(new_H, ref_H, rtol=0, atol=1e-15)


@pytest.mark.parametrize("ws", [True, False])
def test_sparse_loader_equals_the_dense_model(ws):
    from hpcx.bse.supercell import from_tbmodel
    from hpcx.formats.wannier90 import load_wannier90_sparse
    dense, info = load_wannier90(FIXTURE, "WSe2", use_ws_distance=ws)
    sparse, info_s = load_wannier90_sparse(FIXTURE, "WSe2", use_ws_distance=ws)
    np.testing.assert_array_equal(info["atom_of_orbital"], info_s["atom_of_orbital"])
    ref = from_tbmodel(dense)
    for k in ((0.0, 0.0), (1 / 3, 2 / 3), (0.123, 0.321)):
        np.testing.assert_allclose(sparse.hk(k).toarray(), ref.hk(k).toarray(), rtol=0, atol=1e-13)


def test_sparse_loader_cutoff_is_hermitian_and_bounded():
    # the cutoff acts on |H_mn(R)|/ndegen before the WS split: H(k) stays Hermitian and every band
    # moves by at most ||dH(k)||_2 (Weyl)
    from hpcx.formats.wannier90 import load_wannier90_sparse
    full, _ = load_wannier90_sparse(FIXTURE, "WSe2")
    cut, _ = load_wannier90_sparse(FIXTURE, "WSe2", cutoff=2e-3)
    assert cut.nnz < 0.8 * full.nnz
    for k in ((0.0, 0.0), (1 / 3, 2 / 3), (0.123, 0.321)):
        hc, hf = cut.hk(k).toarray(), full.hk(k).toarray()
        assert np.abs(hc - hc.conj().T).max() < 1e-12
        shift = np.abs(np.linalg.eigvalsh(hc) - np.linalg.eigvalsh(hf)).max()
        assert 0 < shift <= np.linalg.norm(hc - hf, 2) + 1e-12 < 0.05
