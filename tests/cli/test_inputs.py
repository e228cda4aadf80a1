"""Input files named in a config are opened and checked before launch: missing, wrong workflow,
unfinished or incomplete files fail `hpcx validate` and the start of `hpcx run` with one line."""

import types

import h5py
import pytest

from hpcx import api
from hpcx.errors import ConfigError
from hpcx.io import RunFile
from hpcx.parallel import SerialComm

from helpers import MOIRE_SMALL, QUICKSTART, SCATTERING_SMALL, run_config, run_hpcx

INPUT_KEYS = {"scattering": ("input", "moire"), "transport": ("input", "scattering")}
PRODUCERS = {"moire": MOIRE_SMALL, "scattering": SCATTERING_SMALL}


@pytest.fixture(scope="module")
def wannier_run(tmp_path_factory):
    """A finished wannier run file (a valid input of the wrong kind for the others)."""
    return run_config(QUICKSTART, tmp_path_factory.mktemp("in") / "w.h5")


def _check(path, expected):
    workflow = types.SimpleNamespace(input_files=lambda params: [("x.input", path, expected)])
    api.check_input_files(workflow, types.SimpleNamespace(source="c.toml"), None)


def test_a_complete_run_file_of_the_expected_workflow_passes(wannier_run):
    with RunFile(wannier_run) as runfile:       # what the check must accept: a finished wannier run
        assert runfile.attrs["workflow"] == "wannier" and runfile.attrs["finished"]
    _check(wannier_run, "wannier")              # ConfigError if refused
    _check(wannier_run.parent, None)            # a directory that must exist (e.g. Wannier90 files)


def test_bad_input_files_fail_with_the_config_key(wannier_run, tmp_path):
    incomplete = tmp_path / "incomplete.h5"
    incomplete.write_bytes(wannier_run.read_bytes())
    with h5py.File(incomplete, "a") as f:
        del f["results/excitons/WSe2/phi_k"]
    unfinished = tmp_path / "unfinished.h5"
    unfinished.write_bytes(wannier_run.read_bytes())
    with h5py.File(unfinished, "a") as f:
        f.attrs["finished"] = ""
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = 1
    (tmp_path / "text.h5").write_text("not HDF5")
    (tmp_path / "gone.h5.partial").write_bytes(b"")
    cases = [
        (tmp_path / "missing.h5", "wannier", "no such run file"),
        (tmp_path / "gone.h5", "wannier", "only " + str(tmp_path / "gone.h5.partial") + " exists"),
        (wannier_run, "transport", "holds a 'wannier' run, a 'transport' run is needed"),
        (foreign, "wannier", "not an hpcx run file"),
        (tmp_path / "text.h5", "wannier", "not a readable HDF5 file"),
        (unfinished, "wannier", "the run did not finish"),
        (incomplete, "wannier", "an incomplete 'wannier' run file"),
        (tmp_path / "nodir", None, "no such file or directory"),
        (tmp_path, "wannier", "a directory, not a run file"),
    ]
    for path, expected, fragment in cases:
        with pytest.raises(ConfigError) as info:
            _check(path, expected)
        message = str(info.value)
        assert message.startswith(f"c.toml: x.input: {path}") and fragment in message, message
        assert "\n" not in message


def test_run_checks_input_files_before_any_work(tmp_path, monkeypatch):
    from hpcx.workflows import wannier
    missing = tmp_path / "missing.h5"
    monkeypatch.setattr(wannier, "input_files", lambda p: [("wannier.states", missing, "wannier")],
                        raising=False)
    config = tmp_path / "q.toml"
    config.write_text(QUICKSTART)
    with pytest.raises(ConfigError, match="q.toml: wannier.states: .*missing.h5: no such run file"):
        api.run(config, tmp_path / "q.h5", comm=SerialComm())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.toml"]


def test_workflows_that_read_run_files_name_them():
    from hpcx import workflows
    for name in INPUT_KEYS:
        assert callable(getattr(workflows.load(name), "input_files", None)), \
            f"{name} reads a run file but has no input_files(params)"


@pytest.mark.parametrize("workflow", sorted(INPUT_KEYS))
def test_validate_fails_before_launch_for_missing_wrong_and_incomplete_inputs(workflow, tmp_path,
                                                                               wannier_run):
    key, producer = INPUT_KEYS[workflow]
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "wrong.h5").write_bytes(wannier_run.read_bytes())
    complete = run_config(PRODUCERS[producer], configs / "complete.h5")
    incomplete = configs / "incomplete.h5"
    incomplete.write_bytes(complete.read_bytes())
    with h5py.File(incomplete, "a") as f:
        names = []
        f["results"].visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        del f[f"results/{names[-1]}"]
    for name, fragment in (("missing.h5", "no such run file"),
                           ("wrong.h5", f"a '{producer}' run is needed"),
                           ("incomplete.h5", f"an incomplete '{producer}' run file")):
        (configs / "c.toml").write_text(f'[run]\nworkflow = "{workflow}"\n[{workflow}]\n{key} = "{name}"\n')
        for command in (["validate", "configs/c.toml"], ["run", "configs/c.toml"]):
            proc = run_hpcx(command, tmp_path, timeout=120)      # relative to configs/, not the cwd
            lines = [line for line in proc.stderr.splitlines() if line.startswith("hpcx: ")]
            assert proc.returncode == 2 and len(lines) == 1, proc.stderr
            assert f"{workflow}.{key}" in lines[0] and fragment in lines[0], lines[0]
            assert str(configs / name) in lines[0]
            assert "phase" not in proc.stderr
    assert not list(tmp_path.glob("*.h5*"))


def test_a_damaged_band_index_is_refused_before_any_allocation(tmp_path):
    """A scattering file whose band index was overwritten (2**40) would have the readers build
    2**40 band names; it is refused as damaged, naming the dataset, by validation and the reader."""
    from hpcx.errors import InputError
    from hpcx.io.tables import scattering_tables_layout
    path = run_config(SCATTERING_SMALL, tmp_path / "s.h5")
    with h5py.File(path, "a") as f:
        f["results/rates/band"][0] = 2 ** 40
    with pytest.raises(ConfigError, match=r"x.input: .*results/rates/band holds indices outside 0 \.\. "):
        _check(path, "scattering")
    with pytest.raises(InputError, match="results/rates/band holds indices outside"):
        scattering_tables_layout(path)
