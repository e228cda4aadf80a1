"""Memory estimates of the BSE operators and the refusal when one cannot fit."""

import pytest

from hpcx.bse.memory import dense_bytes, estimate, matfree_bytes, require_fit
from hpcx.errors import InputError


def test_dense_is_quadratic_and_matfree_linear_in_the_k_grid():
    # N = n_k * 2 * 2 with 3 orbitals: doubling n_k quadruples dense, about doubles matrix-free
    d1, d2 = dense_bytes(4 * 1000, 1), dense_bytes(4 * 2000, 1)
    m1, m2 = matfree_bytes(1000, 3, 2, 2, 1), matfree_bytes(2000, 3, 2, 2, 1)
    assert d2 / d1 == pytest.approx(4.0, rel=0.02)
    assert m2 / m1 == pytest.approx(2.0, rel=0.02)
    # per rank: both shrink with ranks
    assert dense_bytes(10**4, 2) == pytest.approx(dense_bytes(10**4, 1) / 2)
    assert matfree_bytes(10**4, 3, 2, 5, 2) < 0.6 * matfree_bytes(10**4, 3, 2, 5, 1)


def test_target_size_estimate():
    """N = 1e5 (n_k = 25000, 2 x 2 bands, 3 orbitals): dense needs 149 GiB, matrix-free < 1 GiB."""
    est = estimate(25000, 3, 2, 2, 1, limit_gib=20)
    assert est.N == 10**5
    assert est.dense / 2**30 == pytest.approx(16 * 1e10 / 2**30, rel=0.01)
    assert est.matfree / 2**30 < 1.0
    assert require_fit(est, "matfree", "bse.operator") == est.matfree
    with pytest.raises(InputError, match=r"bse.operator = 'dense'.*matfree"):
        require_fit(est, "dense", "bse.operator")
    assert any("matrix-free" in line for line in est.lines())


def test_limit_from_the_run_memory_budget():
    from hpcx.resources import memory_budget
    budget = memory_budget(2)
    est = estimate(10, 3, 1, 1, 2)
    if budget.limit is None:
        assert est.limit == float("inf")
    else:
        assert est.limit == pytest.approx(0.8 * budget.limit, rel=0.05)      # MemAvailable moves a little
