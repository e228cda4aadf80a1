"""hpcx.scaling (``hpcx scaling``): fits, table, projection, reading hpcx bench JSON files."""

import json

import numpy as np
import pytest

from hpcx import scaling
from hpcx.cli import main
from hpcx.errors import InputError


def _payload(benchmark, ranks, result):
    return {"benchmark": benchmark, "machine": {"mpi_ranks": ranks, "cpu": "test"}, "result": result}


def _transport(ranks, t_n, particles=200000, samples=20):
    return _payload("transport", ranks, {"states": 11907, "loop": {
        "ranks": ranks, "particles": particles, "samples": samples, "t_1": 2.0, "t_n": t_n}})


def _write(tmp_path, name, payload):
    path = tmp_path / name
    path.write_text(json.dumps(payload))
    return path


@pytest.mark.parametrize("serial", [0.0, 0.07, 0.5, 1.0])
def test_amdahl_fit_recovers_the_serial_fraction_of_an_exact_dataset(serial):
    p = np.array([1, 2, 4, 8, 16, 64])
    t = 12.5 * (serial + (1 - serial) / p)
    t1, s = scaling.amdahl_fit(p, t)
    assert t1 == pytest.approx(12.5, rel=1e-10)
    assert s == pytest.approx(serial, abs=1e-10)


def test_amdahl_fit_from_two_rank_counts_is_exact():
    # 1 rank 10 s, 2 ranks 6 s: 6 = 10 (s + (1 - s)/2) -> s = 0.2
    t1, s = scaling.amdahl_fit([1, 2], [10.0, 6.0])
    assert (t1, s) == (pytest.approx(10.0), pytest.approx(0.2))


def test_amdahl_fit_keeps_the_fraction_physical_when_more_ranks_are_slower():
    t1, s = scaling.amdahl_fit([1, 2], [1.0, 1.5])
    assert 0.0 <= s <= 1.0 and s == pytest.approx(1.0)


def test_weak_fit_recovers_the_serial_fraction_of_an_exact_dataset():
    p = np.array([1, 2, 4, 8])
    t = 3.0 * ((1 - 0.05) + 0.05 * p)
    t1, s = scaling.weak_fit(p, t)
    assert t1 == pytest.approx(3.0, rel=1e-10) and s == pytest.approx(0.05, abs=1e-10)


def test_fit_needs_two_rank_counts():
    with pytest.raises(ValueError, match="two or more"):
        scaling.amdahl_fit([2, 2], [1.0, 1.1])


def test_table_speedup_efficiency_and_fit(tmp_path):
    files = [_write(tmp_path, "t1.json", _transport(1, 2.0)), _write(tmp_path, "t2.json", _transport(2, 1.25))]
    (s,) = scaling.series(scaling.read(files))
    np.testing.assert_allclose(s.speedup(), [1.0, 1.6])
    np.testing.assert_allclose(s.efficiency(), [1.0, 0.8])
    table = scaling.markdown_table([s]).splitlines()
    assert table[0].startswith("| benchmark | quantity | N | ranks | time (s) | speed-up | efficiency |")
    # s = 2 T(2)/T(1) - 1 = 0.25
    assert table[2] == "| transport | ensemble loop | 200000 | 1 | 2 | 1 | 1.00 | 0.250 |"
    assert table[3] == "| transport | ensemble loop | 200000 | 2 | 1.25 | 1.6 | 0.80 |  |"


def test_speedup_is_relative_to_the_smallest_rank_count():
    m = [scaling.Measurement("bse", "assembly", 100, p, t) for p, t in ((4, 8.0), (8, 5.0), (16, 4.0))]
    (s,) = scaling.series(m)
    np.testing.assert_allclose(s.speedup(), [4.0, 6.4, 8.0])
    np.testing.assert_allclose(s.efficiency(), [1.0, 0.8, 0.5])


def test_weak_series_group_rows_across_sizes():
    m = [scaling.Measurement("transport", "ensemble loop", 1000 * p, p, t, row=0)
         for p, t in ((1, 2.0), (2, 2.5), (4, 4.0))]
    (s,) = scaling.series(m, "weak")
    np.testing.assert_allclose(s.efficiency(), [1.0, 0.8, 0.5])
    np.testing.assert_allclose(s.speedup(), [1.0, 1.6, 2.0])


def test_every_benchmark_shape_is_read():
    scat = _payload("scattering", 2, {"ranks": 2, "rows": [
        {"grid": 6, "N": 108, "total": 0.5, "iterations": 12, "nnz": 5000},
        {"grid": 9, "N": 243, "total": 1.5, "iterations": 14, "nnz": 20000}]})
    dense = _payload("bse", 2, {"zgemm_gflops": 5.0, "rows": [
        {"case": "monolayer", "N": 162, "ranks": 2, "assembly_s": 0.2, "slepc_s": 0.3, "slepc_its": 4}]})
    matfree = _payload("bse", 2, {"case": "monolayer WSe2", "rows": [
        {"grid": 30, "N": 1800, "ranks": 2, "t_product_s": 0.01, "t_solve_s": 2.0, "products": 250}]})
    got = {(m.benchmark, m.quantity, m.size, m.seconds) for p in (scat, dense, matfree)
           for m in scaling.measurements(p, "x.json")}
    assert got == {("scattering", "table build", 108, 0.5), ("scattering", "table build", 243, 1.5),
                   ("bse", "assembly monolayer", 162, 0.2), ("bse", "eigensolve monolayer", 162, 0.3),
                   ("bse --matrix-free", "product", 1800, 0.01), ("bse --matrix-free", "eigensolve", 1800, 2.0)}


def test_foreign_json_is_one_clear_error(tmp_path):
    path = _write(tmp_path, "other.json", {"benchmark": "nbody", "machine": {"mpi_ranks": 1}, "result": {}})
    with pytest.raises(InputError, match="other.json.*'nbody'"):
        scaling.read([path])
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(InputError, match="bad.json"):
        scaling.read([bad])


def test_collective_costs():
    a, b = 2e-6, 1e-10
    assert scaling.collective_seconds("allreduce", 1e6, 1, a, b) == 0.0
    assert scaling.collective_seconds("allgather", 1e6, 2, a, b) == pytest.approx(a + 0.5e6 * b)
    assert scaling.collective_seconds("allreduce", 1e6, 4, a, b) == pytest.approx(4 * a + 1.5e6 * b)
    assert scaling.collective_seconds("alltoall", 1e6, 4, a, b) == pytest.approx(3 * a + 0.75 * 0.25e6 * b)


def test_projection_reproduces_the_measured_points_and_adds_communication():
    # an exact two-point dataset: the projection passes through both measurements
    m = [scaling.Measurement("bse --matrix-free", "product", 101250, p, t, extra=(("products", 1),))
         for p, t in ((1, 9.5e-2), (2, 5.6e-2))]
    (s,) = scaling.series(m)
    np.testing.assert_allclose(scaling.projected_time(s, [1, 2]), s.seconds, rtol=1e-9)
    # communication grows with p; without it (alpha = beta = 0) the projection is pure Amdahl
    far = scaling.projected_time(s, [1024])[0]
    pure = scaling.projected_time(s, [1024], {"alpha": 0.0, "beta": 0.0})[0]
    t1, frac = s.fit()
    assert pure == pytest.approx(t1 * (frac + (1 - frac) / 1024))
    assert far > pure


def test_cli_writes_table_and_figure(tmp_path, capsys):
    files = [str(_write(tmp_path, f"t{p}.json", _transport(p, t))) for p, t in ((1, 2.0), (2, 1.1))]
    stem = tmp_path / "study"
    assert main(["scaling", *files, "-o", str(stem)]) == 0
    out = capsys.readouterr().out.split()
    assert out == [f"{stem}.md", f"{stem}.png"]
    text = (tmp_path / "study.md").read_text()
    assert "| transport | ensemble loop | 200000 | 2 | 1.1 | 1.82 | 0.91 |  |" in text
    assert "p = 1024" in text
    assert (tmp_path / "study.png").stat().st_size > 10000
