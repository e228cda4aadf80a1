"""Bad values the schema cannot see get one clear error naming the file and key or line."""

import io
import warnings

import numpy as np
import pytest

from hpcx import checks
from hpcx.errors import ConfigError, InputError, NumericalError
from hpcx.log import setup_logging
from hpcx.parallel import SerialComm


def test_inverted_interval_is_refused_not_swapped():
    checks.require_interval("b.toml", "bse.energy_min", 1.0, "bse.energy_max", 3.0)
    with pytest.raises(ConfigError) as info:
        checks.require_interval("b.toml", "bse.energy_min", 3.0, "bse.energy_max", 1.0, unit="eV")
    assert str(info.value) == ("b.toml: bse.energy_max: 1.0 eV must be larger than bse.energy_min = 3.0 eV "
                               "(the interval [bse.energy_min, bse.energy_max] is empty or inverted)")


def test_temperature_below_validity_names_the_entry_and_the_reason():
    checks.require_at_least("t.toml", "transport.temperatures", [4.0, 300.0], 1.0, "occupations underflow")
    with pytest.raises(ConfigError) as info:
        checks.require_at_least("t.toml", "transport.temperatures", [300.0, 1e-6], 1.0,
                                "occupations underflow", unit="K")
    assert info.value.key == "transport.temperatures[1]"
    assert "1e-06 K is below the model's validity (>= 1 K: occupations underflow)" in str(info.value)


def test_non_finite_number_in_a_file_names_file_and_line():
    data = np.array([[0.0, 1.0], [2.0, np.inf], [np.nan, 3.0]])
    with pytest.raises(InputError, match=r"^w_hr.dat:12: non-finite hopping \(inf\)$"):
        checks.require_finite(data, "w_hr.dat", "hopping", line_of=lambda row: row + 11)
    with pytest.raises(InputError, match=r"^x.dat:7: non-finite number \(NaN\)$"):
        checks.finite_number("NaN", "x.dat", 7)
    assert checks.finite_number("1e3", "x.dat", 7) == 1000.0
    checks.require_finite(np.arange(3.0), "ok.dat")


def test_numpy_warnings_that_mean_a_wrong_result_become_errors():
    variance = np.zeros(4)
    with pytest.raises(NumericalError, match="diffusion fit: an invalid operation .* gave NaN"):
        with checks.numerical_errors("diffusion fit"):
            _ = variance / variance
    with pytest.raises(NumericalError, match="occupation: a number overflowed"):
        with checks.numerical_errors("occupation"):
            _ = np.exp(np.array([1000.0]))
    with pytest.raises(NumericalError, match="3 of 4 values are not finite"):
        checks.require_finite_result(np.array([1.0, np.nan, np.inf, -np.inf]), "D(t)")


def test_other_warnings_become_one_log_line_each():
    stream = io.StringIO()
    log = setup_logging(SerialComm(), "INFO", stream=stream)
    with checks.warnings_to_log(log):
        for _ in range(3):
            np.log(np.zeros(2))
        warnings.warn("something odd", UserWarning, stacklevel=1)
    lines = stream.getvalue().strip().splitlines()
    assert len(lines) == 2
    assert "WARNING RuntimeWarning: divide by zero encountered in log (at " in lines[0]
    assert "UserWarning: something odd" in lines[1]
