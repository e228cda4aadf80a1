"""Memory: every workflow estimates its peak per rank, the estimate matches the measured peak RSS of
the examples within 1.5x, and a config that cannot fit is refused in seconds (exit 2, one line)."""

import os
import re
import subprocess
import sys
import time
import tomllib

import pytest

from helpers import ROOT

# One config per workflow that needs far more memory than any node has, from its own schema
# (sizes a user may type); each must be refused by the estimate before any large allocation.
OVERSIZED = {
    "wannier": '[structure]\nlayers = ["MoSe2", "WSe2"]\n[wannier]\nn_r = 2000000000\n',
    "moire": "[moire]\nshells = 60\ngrid = 300\n",
    "scattering": '[scattering]\nmodel = "multivalley"\nk_points = 80\n',
    "bse": '[bse]\nsource = "liu"\nk_grid = 400\n',
    "bse_moire": "[bse_moire]\ntheta = 0.3\nmax_sites = 200000\n",
    "transport": "[transport]\ntwist_deg = [3.0]\ntemperatures = [10.0]\nparticles = 20000000000\n",
    "kinetics": "[kinetics]\nenergy_step = 0.001\n",
    "valley": "[valley]\nprofile_chunk = 100000\nprofile_dq = 0.0001\n",
}

# Workflows whose schema maxima bound the peak: their largest config must stay small.
BOUNDED = {"biexciton": "[biexciton]\npl_points = 100000\nwindow = 24\nn_radial = 400\n"}

EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))
ESTIMATE = re.compile(r"memory estimate: ([\d.]+) (GiB|MiB) per rank at peak")
PEAK = re.compile(r"peak memory: ([\d.]+) (GiB|MiB) per rank")


def _env():
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))


def _workflow(path):
    return tomllib.loads(path.read_text())["run"]["workflow"]


def test_every_workflow_exports_estimate_memory():
    from hpcx import workflows
    for name in workflows.WORKFLOW_MODULES:
        module = workflows.load(name)
        has = callable(getattr(module, "estimate_memory", None))
        assert has, f"workflow {name} has no estimate_memory(params, comm_size)"
        keys = getattr(module, "MEMORY_KEYS", ())
        assert keys, f"workflow {name} has no MEMORY_KEYS (the config keys its estimate depends on)"
        assert all(re.fullmatch(r"\w+\.\w+", key) for key in keys)
    assert set(OVERSIZED) | set(BOUNDED) == set(workflows.WORKFLOW_MODULES)


@pytest.mark.parametrize("workflow", sorted(BOUNDED))
def test_the_largest_config_of_a_bounded_workflow_fits_a_small_node(workflow):
    from hpcx import workflows

    from helpers import params_of
    params = params_of(f'[run]\nworkflow = "{workflow}"\n' + BOUNDED[workflow])
    assert workflows.load(workflow).estimate_memory(params, 1) < 2 * 2 ** 30


def _measure(config, output, cwd):
    """(estimated peak MiB, measured peak RSS MiB, stderr) of one serial run, both from its log.

    The peak is the run's own VmHWM (the high-water mark of its address space since it
    started), which, unlike a parent's ru_maxrss of the child, does not include the RSS
    of the (large) test process it was forked from.
    """
    proc = subprocess.run([sys.executable, "-m", "hpcx", "run", str(config), "-o", str(output)],
                          cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    estimate, peak = ESTIMATE.search(proc.stderr), PEAK.search(proc.stderr)
    assert estimate and peak, proc.stderr
    return _mib(*estimate.groups()), _mib(*peak.groups()), proc.stderr


def _mib(value, unit):
    return float(value) * (1024.0 if unit == "GiB" else 1.0)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_estimate_is_within_1_5x_of_the_measured_peak_rss(example, tmp_path):
    estimate, peak, _ = _measure(example, tmp_path / "out.h5", tmp_path)
    assert peak / 1.5 <= estimate <= 1.5 * peak, f"estimate {estimate:.0f} MiB, peak RSS {peak:.0f} MiB"


def test_a_large_wannier_basis_is_estimated_within_1_5x(tmp_path):
    """Where the workflow's own arrays dominate the process (not the interpreter)."""
    config = tmp_path / "big.toml"
    config.write_text('[run]\nworkflow = "wannier"\n[structure]\nlayers = ["WSe2"]\n'
                      '[wannier]\nstates = ["1s", "2s"]\nbasis_size = 500\nn_r = 400000\n')
    estimate, peak, _ = _measure(config, tmp_path / "big.h5", tmp_path)
    assert peak > 300, "the arrays must dominate for this check to mean something"
    assert peak / 1.5 <= estimate <= 1.5 * peak, f"estimate {estimate:.0f} MiB, peak RSS {peak:.0f} MiB"


def test_valley_moments_are_estimated_within_1_5x(tmp_path):
    """The valley workflow without profiles: the setup (1s form factor, rate quadratures) and the
    moment solver set the peak, not the profile solver of the example."""
    config = tmp_path / "moments.toml"
    config.write_text('[run]\nworkflow = "valley"\n[valley]\nmaterial = "WS2"\nenvironment = "hBN"\n'
                      'temperatures = [300.0, 77.0, 20.0]\nt_end = 30.0\ndt = 0.1\ndq = 0.01\nprofiles = false\n')
    estimate, peak, _ = _measure(config, tmp_path / "moments.h5", tmp_path)
    assert peak / 1.5 <= estimate <= 1.5 * peak, f"estimate {estimate:.0f} MiB, peak RSS {peak:.0f} MiB"


@pytest.mark.parametrize("workflow", sorted(OVERSIZED))
def test_an_oversized_config_is_refused_in_seconds(workflow, tmp_path):
    (tmp_path / "big.toml").write_text(f'[run]\nworkflow = "{workflow}"\n' + OVERSIZED[workflow])
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "hpcx", "run", "big.toml"], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - start
    lines = [line for line in proc.stderr.splitlines() if line.startswith("hpcx: ")]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    if workflow == "bse_moire":       # its cell search is refused in params, with the same limit detection
        assert "big.toml: bse_moire.max_sites: the commensurate-cell search" in lines[0]
        assert "GiB per rank" in lines[0] and "lower max_sites" in lines[0]
    else:
        assert "big.toml: memory: the run needs about" in lines[0] and "still free of the" in lines[0]
        assert "reduce " in lines[0] and "allow_oversubscribe_memory" in lines[0]
    assert elapsed < 5.0 + _startup_seconds(tmp_path), f"refused after {elapsed:.1f} s"
    assert not list(tmp_path.glob("*.h5*"))


def _startup_seconds(cwd):
    """Seconds `hpcx --version` takes here (interpreter and imports), not counted against the 5 s."""
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "hpcx", "--version"], cwd=cwd, env=_env(), capture_output=True)
    return time.monotonic() - start


def test_memory_limit_key_refuses_and_override_lets_the_run_through(tmp_path):
    config = (ROOT / "examples" / "quickstart.toml").read_text()
    (tmp_path / "tight.toml").write_text(config.replace('[run]\n', '[run]\nmemory_limit = 0.01\n', 1))
    proc = subprocess.run([sys.executable, "-m", "hpcx", "run", "tight.toml"], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "[run] memory_limit = 0.01 GiB" in proc.stderr, proc.stderr
    (tmp_path / "over.toml").write_text(config.replace(
        '[run]\n', '[run]\nmemory_limit = 0.01\nallow_oversubscribe_memory = true\n', 1))
    proc = subprocess.run([sys.executable, "-m", "hpcx", "run", "over.toml"], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "OVER the limit" in proc.stderr, proc.stderr
