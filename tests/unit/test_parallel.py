import pytest

from hpcx.errors import ConfigError
from hpcx.parallel import SerialComm, all_or_none, block_range, on_root


@pytest.mark.parametrize("n", [0, 1, 5, 7, 100])
@pytest.mark.parametrize("size", [1, 2, 3, 8])
def test_blocks_cover_range_once_and_balance(n, size):
    ranges = [block_range(n, size, r) for r in range(size)]
    assert ranges[0][0] == 0 and ranges[-1][1] == n
    for (_, b), (c, _) in zip(ranges, ranges[1:]):
        assert b == c
    lengths = [b - a for a, b in ranges]
    assert max(lengths) - min(lengths) <= 1


def test_serial_all_or_none_reraises_original():
    with pytest.raises(ConfigError, match="k: bad"):
        with all_or_none(SerialComm()):
            raise ConfigError("f.toml", "k", "bad")


def test_on_root_returns_value():
    assert on_root(lambda x: x + 1, SerialComm(), 41) == 42


def test_config_error_survives_pickling_between_ranks():
    import pickle
    err = pickle.loads(pickle.dumps(ConfigError("f.toml", "a.b", "bad value")))
    assert str(err) == "f.toml: a.b: bad value" and err.key == "a.b"
