"""Shared test helpers: running configs and the CLI, rank-agreement checks, small models and configs.

Every test module imports what it shares from here; no test module imports
another.  Sections: running hpcx, MPI, kernels, small configs, small models.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "examples" / "data" / "wse2-wannier90"  # copy of ../shared/data/wse2-wannier90
os.environ.setdefault("H5PY_ALWAYS_USE_MPI", "1")


# -- running hpcx -----------------------------------------------------------------

def run_config(text, path, comm=None, **kwargs):
    """Run config ``text`` through :func:`hpcx.api.run`, writing ``path``; returns the run-file path.

    The text is written to ``<path>.toml`` first (so relative paths in it resolve
    against the output's directory); ``comm`` defaults to a serial communicator.
    """
    from hpcx import api
    from hpcx.parallel import SerialComm, broadcast
    comm = comm or SerialComm()
    path = Path(path)
    config = path.with_name(path.stem + ".toml")
    if comm.rank == 0:
        config.write_text(text, encoding="utf-8")
    broadcast(None, comm)
    return api.run(config, path, comm=comm, **kwargs)


def validate_text(text, source="test.toml"):
    """The validated Config of ``text`` (schema checks only)."""
    from hpcx import workflows
    from hpcx.config import validate
    return validate(text, source, workflows.schemas())


def params_of(text, source="test.toml", comm_size=1):
    """The workflow's typed Params of config ``text`` (all checks before computation)."""
    from hpcx import workflows
    cfg = validate_text(text, source)
    return workflows.load(cfg.workflow).params(cfg, comm_size)


def mpirun_command(n):
    """argv prefix that starts ``n`` ranks of this Python, or None without mpirun."""
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        return None
    cmd = [mpirun, "-n", str(n)]
    if os.geteuid() == 0:
        cmd += ["--allow-run-as-root", "--oversubscribe"]
    return cmd + [sys.executable]


def run_hpcx(args, cwd, ranks=1, timeout=300):
    """Run ``python -m hpcx ARGS`` (under mpirun for ranks > 1); CompletedProcess."""
    if ranks == 1:
        prefix = [sys.executable]
    else:
        prefix = mpirun_command(ranks)
        if prefix is None:
            if os.environ.get("CI"):
                pytest.fail("mpirun not found (CI must test MPI)")
            pytest.skip("mpirun not found")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.run(prefix + ["-m", "hpcx", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


# -- MPI -----------------------------------------------------------------------------

def assert_ranks_agree(text, comm, tmp_path_factory, required=(), rtol=0.0, scale_atol=0.0):
    """Run config ``text`` on ``comm`` (2 or more ranks) and serially on every rank; compare /results.

    Integer/bool datasets must be identical; floats identical (rtol=0) or within rtol, or
    within scale_atol times the dataset's largest magnitude (for iterative solvers: noise-level
    entries such as dark-state oscillator strengths carry no relative accuracy).
    ``required`` names datasets (relative to /results) that must be present.
    """
    import h5py

    from hpcx.parallel import SerialComm

    assert comm.size >= 2
    base = comm.bcast(str(tmp_path_factory.mktemp("ranks")) if comm.rank == 0 else None)
    parallel = run_config(text, f"{base}/many.h5", comm)
    serial = run_config(text, f"{base}/one_{comm.rank}.h5", SerialComm())
    comm.Barrier()
    names = []
    with h5py.File(parallel) as p, h5py.File(serial) as s:
        assert p.attrs["mpi_size"] == comm.size and s.attrs["mpi_size"] == 1
        s["results"].visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        for name in required:
            assert name in names, name
        for name in names:
            a, b = p[f"results/{name}"][()], s[f"results/{name}"][()]
            if (rtol == 0.0 and scale_atol == 0.0) or np.asarray(a).dtype.kind not in "fc":
                np.testing.assert_array_equal(a, b, err_msg=name)
            else:
                atol = scale_atol * float(np.max(np.abs(b))) if np.size(b) else 0.0
                np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=name)


# -- kernels and optional dependencies -------------------------------------------------

def _strict():
    """``make test`` sets HPCX_TEST_STRICT=1: a missing kernel or optional dependency fails, never skips."""
    return os.environ.get("HPCX_TEST_STRICT") == "1"


def require_module(name):
    """Import module ``name`` (e.g. slepc4py); fail under HPCX_TEST_STRICT=1 (make test), else skip."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if _strict():
            pytest.fail(f"{name} is missing but HPCX_TEST_STRICT=1 (make test needs it): {exc}")
        pytest.skip(f"{name} not available")


def require_kernel(name):
    """Import ``hpcx._kernels.<name>``; fail under HPCX_TEST_STRICT=1 (make test), else skip."""
    return require_module(f"hpcx._kernels.{name}")


# -- small configs -------------------------------------------------------------------

QUICKSTART = (ROOT / "examples" / "quickstart.toml").read_text()

BIEXCITON_SMALL = """
[run]
workflow = "biexciton"
[biexciton]
twist_deg = 1.0
twist_scan = [0.5, 1.0]
epsilon_scan = [4.5, 1.0]
n_radial = 40
lifetime_n_radial = 40
window = 6
fillings = [0.5, 1.5]
temperatures = [30.0, 300.0]
pl_points = 101
dipole_scales = [0.0, 1.0, 2.0]
"""

MOIRE_SMALL = """
[run]
workflow = "moire"
[moire]
twist_deg = 3.0
shells = 6
n_bands = 4
path_points = 31
grid = 6
twist_scan = [2.0, 4.0, 6.0]
scan_grid = 6
map_points = 21
"""

SCATTERING_SMALL = """
[run]
workflow = "scattering"
[scattering]
twist_deg = 3.0
shells = 4
n_bands = 2
grid = 5
temperatures = [30.0, 150.0]
table_temperature = 30.0
"""

TRANSPORT_SMALL = """
[run]
workflow = "transport"
[transport]
twist_deg = [3.0]
temperatures = [150.0]
particles = 4000
batches = 8
t_max = 20.0
samples = 20
initial = "thermal"
spot_sigma = 200.0
profile_bins = 41
profile_half_width = 800.0
checkpoint_every = 0
[scattering]
shells = 4
n_bands = 2
grid = 5
"""

BSE_WSE2 = f"""
[run]
workflow = "bse"
[bse]
source = "wannier90"
wannier90_dir = "{FIXTURE}"
seedname = "WSe2"
n_occupied = 7
k_grid = 6
valence_bands = 2
conduction_bands = 2
n_eig = 12
"""

BSE_MOIRE_BASE = {"theta": 16.1, "k_grid": 3, "valence_bands": 4, "conduction_bands": 3, "n_eig": 6,
                  "n_lanczos": 400}


def bse_moire_config(**changes):
    """Config text of BSE_MOIRE_BASE with keys changed (None removes a key)."""
    from hpcx.config import dump_toml
    items = {k: v for k, v in {**BSE_MOIRE_BASE, **changes}.items() if v is not None}
    return dump_toml({"run": {"workflow": "bse_moire"}, "bse_moire": items})


# -- small models (BSE and tight-binding tests) --------------------------------------

def graphene_like(t=-2.7, delta=0.4, a=2.46):
    """Two orbitals (A, B) on a honeycomb lattice, nearest-neighbour hopping t, gap 2*delta."""
    from hpcx.bse.tbmodel import TBModel
    lattice = np.array([[a, 0, 0], [a / 2, a * np.sqrt(3) / 2, 0], [0, 0, 20.0]])
    pos = np.array([[0, 0, 0], (lattice[0] + lattice[1]) / 3])
    R, H = [], []

    def add(r, i, j, v):
        for rr, hh in zip(R, H):
            if tuple(rr) == tuple(r):
                hh[i, j] += v
                return
        h = np.zeros((2, 2), complex)
        h[i, j] = v
        R.append(r)
        H.append(h)
    add((0, 0, 0), 0, 0, delta)
    add((0, 0, 0), 1, 1, -delta)
    for r in [(0, 0, 0), (-1, 0, 0), (0, -1, 0)]:       # B at tau_B + R next to A at 0
        add(r, 0, 1, t)
        add(tuple(-x for x in r), 1, 0, t)
    return TBModel(lattice, pos, np.array(R), np.array(H))


def two_band_model(a=3.3):
    """Gapped honeycomb model (two orbitals on different sites), plus a third orbital on site A."""
    from hpcx.bse.tbmodel import TBModel
    lattice = np.array([[a, 0, 0], [a / 2, a * np.sqrt(3) / 2, 0], [0, 0, 20.0]])
    pos = np.array([[0, 0, 0], (lattice[0] + lattice[1]) / 3, [0, 0, 0]])
    H = {}

    def add(r, i, j, v):
        H.setdefault(r, np.zeros((3, 3), complex))[i, j] += v
        H.setdefault(tuple(-x for x in r), np.zeros((3, 3), complex))[j, i] += np.conj(v)

    H.setdefault((0, 0, 0), np.zeros((3, 3), complex))
    H[(0, 0, 0)][0, 0], H[(0, 0, 0)][1, 1], H[(0, 0, 0)][2, 2] = 0.9, -0.9, 2.5
    for r in [(0, 0, 0), (-1, 0, 0), (0, -1, 0)]:
        add(r, 0, 1, -1.1)
        add(r, 2, 1, 0.3 + 0.2j)
    add((1, 0, 0), 0, 0, 0.05j)
    add((1, 0, 0), 0, 2, 0.1)
    R = sorted(H)
    return TBModel(lattice, pos, np.array(R), np.array([H[r] for r in R]))


def bse_setup(model, grid, n_occ, nv, nc, V, Vx=None):
    """(band window, orbital sites, interaction) of ``model`` on a ``grid`` for the dense BSE tests."""
    from hpcx.bse import bands as bb
    from hpcx.bse import interaction as it
    from hpcx.bse.tbmodel import monkhorst_pack
    k = monkhorst_pack(*grid)
    E, C = bb.bands_on_grid(model, k)
    w = bb.band_window(E, C, k, n_occ, nv, nc, scissor=0.3)
    sites = it.group_sites(model.positions)
    inter = it.build_interaction(model.lattice, grid, sites, V, Vx)
    return w, sites, inter


def _interactions():
    from hpcx.bse import interaction as it
    return it.keldysh(45.09, 1.0, 3.32), it.coulomb(1.0, 3.32)


# Keldysh (r0 45.09 Å, eps 1, onsite 3.32 Å) and bare Coulomb interactions of the BSE tests
V_KELDYSH, V_BARE = _interactions()


def three_orbital_toy(a=3.3):
    """Three orbitals on a triangular lattice with complex, non-symmetric hoppings (a generic
    Hermitian model: no accidental symmetry can hide a folding error)."""
    from hpcx.bse.tbmodel import TBModel
    lattice = np.array([[a, 0, 0], [a / 2, a * np.sqrt(3) / 2, 0], [0, 0, 20.0]])
    pos = np.zeros((3, 3))
    rng = np.random.default_rng(7)
    Rs = [(0, 0, 0), (1, 0, 0), (0, 1, 0), (-1, 1, 0), (2, 0, 0), (1, 1, 0)]
    blocks = {}
    onsite = rng.normal(size=(3, 3)) + 1j * rng.normal(size=(3, 3))
    blocks[(0, 0, 0)] = onsite + onsite.conj().T + np.diag([1.5, -1.0, -1.2])
    for r in Rs[1:]:
        h = 0.3 * (rng.normal(size=(3, 3)) + 1j * rng.normal(size=(3, 3)))
        blocks[r] = h
        blocks[tuple(-x for x in r)] = h.conj().T
    R = np.array(list(blocks))
    return TBModel(lattice, pos, R, np.array([blocks[tuple(r)] for r in R]))


def three_band_model():
    """:func:`three_orbital_toy` with orbital 2 moved off-site (minimum image and gauge matter)."""
    m = three_orbital_toy()
    pos = m.positions.copy()
    pos[2] = (m.lattice[0] + m.lattice[1]) / 3
    return type(m)(m.lattice, pos, m.R, m.H_Rij)


def smooth_potential(r):
    """A smooth, finite screened-like potential (eV, r in Angstrom); any V(r) tests the algebra."""
    return 1.4 / (r + 2.0) + 0.3 * np.exp(-r / 5.0)


def band_edges(model, grid, n_v, n_c):
    """(k, E_v, E_c, C_v, C_c): the n_v highest valence (top down) and n_c lowest conduction bands."""
    from hpcx.bse.tbmodel import monkhorst_pack
    k = monkhorst_pack(*grid)
    E, C = model.bands(k)
    n_occ = model.n_orb // 2
    bv = np.arange(n_occ - 1, n_occ - 1 - n_v, -1)
    bc = np.arange(n_occ, n_occ + n_c)
    return k, E[:, bv], E[:, bc], C[:, :, bv], C[:, :, bc]


def dense_bse_reference(model, grid, E_v, E_c, C_v, C_c, V, V_x=None, site=None, f_x=2.0):
    """H[S, S'] by the defining sums (seed 004 SI Eqs. 18-19), explicit loops over k, k'."""
    from hpcx.bse.matfree import min_image
    from hpcx.bse.tbmodel import monkhorst_pack
    n1, n2 = grid
    nk = n1 * n2
    nv, nc = E_v.shape[1], E_c.shape[1]
    kf = monkhorst_pack(n1, n2)[:, :2]
    Rs = np.array([(a, b) for a in range(n1) for b in range(n2)])
    Rc = np.column_stack([Rs, np.zeros(len(Rs))]) @ model.lattice
    tau = model.positions
    d = Rc[:, None, None, :] + tau[None, None, :, :] - tau[None, :, None, :]
    VR = V(np.linalg.norm(min_image(d, model.lattice, grid), axis=-1))      # [R, i, j]
    H = np.zeros((nk * nv * nc,) * 2, complex)
    for k in range(nk):
        for kp in range(nk):
            q = kf[k] - kf[kp]
            W = np.einsum("r,rij->ij", np.exp(-2j * np.pi * Rs @ q), VR)
            K = -np.einsum("iv,iw,ij,jc,jd->vcwd", C_v[k], C_v[kp].conj(), W, C_c[k].conj(), C_c[kp]) / nk
            if V_x is not None:
                D = np.zeros((V_x.shape[0], nv, nc), complex)
                Dp = np.zeros_like(D)
                np.add.at(D, site, C_c[k].conj()[:, None, :] * C_v[k][:, :, None])
                np.add.at(Dp, site, C_c[kp].conj()[:, None, :] * C_v[kp][:, :, None])
                K += f_x / nk * np.einsum("svc,st,twd->vcwd", D, V_x, Dp.conj())
            H[k * nv * nc:(k + 1) * nv * nc, kp * nv * nc:(kp + 1) * nv * nc] = K.reshape(nv * nc, nv * nc)
    H[np.diag_indices_from(H)] += (E_c[:, None, :] - E_v[:, :, None]).reshape(-1)
    return H


# -- moiré scattering test states ----------------------------------------------------

SCATTERING_MASS = 0.86          # exciton mass of the free-state tests, m0


def _moire_test_geometry():
    from hpcx.physics import moire as mp
    return mp.MoireGeometry.from_degrees(0.3288, 0.3286, 3.0)


GEO = _moire_test_geometry()    # the 3° MoSe2-WSe2-like geometry of the scattering tests


def gaussian_form_factor(p, a=1.5):
    """Form factor of a Gaussian 1s density with radius a (nm): F = exp(-(p a)^2 / 4), F(0) = 1."""
    return np.exp(-(np.asarray(p) * a) ** 2 / 4.0)


def free_states(grid, shells, mass=SCATTERING_MASS):
    """V = 0 moiré states as plane-wave unit vectors: one 'band' per basis vector g.

    Returns (Q, E [n_Q, n_g], vectors [n_Q, n_g, n_g] = identity, velocity, s, k [n, 2]).
    """
    from hpcx.physics import moire as mp
    from hpcx.units import HBAR2_2M0_MEV_NM2, HBAR_MEV_PS
    g, s = mp.plane_wave_basis(GEO, shells)
    Q, _ = GEO.monkhorst_pack(grid)
    k = Q[:, None, :] + g[None, :, :]
    E = HBAR2_2M0_MEV_NM2 / mass * np.sum(k ** 2, axis=-1)
    vec = np.broadcast_to(np.eye(len(g), dtype=complex), (len(Q), len(g), len(g))).copy()
    vel = 2.0 * HBAR2_2M0_MEV_NM2 / (mass * HBAR_MEV_PS) * k
    return Q, E, vec, vel, s, k.reshape(-1, 2)


# -- scattering and transport: runs with a RunContext, stop requests ------------------

def run_with_context(text, output, comm=None, stop_flag=None):
    """The workflow's Result of config ``text`` computed through its ``run`` with a RunContext whose
    output is ``output`` (restart files in ``<output>.checkpoint/``; no run file written) and
    ``stop_flag`` (a callable polled at safe points, as the signal handling sets it)."""
    from hpcx import workflows
    from hpcx.context import RunContext
    from hpcx.parallel import SerialComm
    comm = comm or SerialComm()
    cfg = validate_text(text)
    wf = workflows.load(cfg.workflow)
    ctx = RunContext(comm=comm, output=Path(output), workflow=cfg.workflow, stop_flag=stop_flag)
    return wf.run(wf.params(cfg, comm.size), ctx)


def stop_after(polls, rank=None, comm=None):
    """A stop flag that turns true at its ``polls``-th poll (only on ``rank`` of ``comm`` if given);
    ``flag.polls`` counts the polls so far."""
    def flag(*polled_on):           # RunContext.stop_requested passes the communicator polled on
        flag.polls += 1
        return flag.polls >= polls and (rank is None or comm.rank == rank)
    flag.polls = 0
    return flag


class HpcxLog:
    """Collects the messages of the ``hpcx`` loggers at INFO and above while in a ``with`` block
    (independent of handlers, levels and propagation other tests or the CLI have set)."""

    def __enter__(self):
        import logging

        class _Collect(logging.Handler):
            def emit(handler, record):
                self.messages.append(record.getMessage())

        self.messages, self.logger = [], logging.getLogger("hpcx")
        self.handler, self.level = _Collect(logging.INFO), self.logger.level
        self.logger.addHandler(self.handler)
        self.logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.level)
        return False

    @property
    def text(self):
        return "\n".join(self.messages)


# ---------------------------------------------------------------------------- kinetics
def kinetics_config(sweep=False, substrates=(), **kinetics):
    """A small `kinetics` config (MoSe2-WSe2 on SiO2, coarse shells, short window) as TOML text; ``sweep``
    adds a 2 x 2 (T, Delta E) sweep, ``substrates`` its substrate axis."""
    values = {"temperature": 77.0, "delta_e": 315.0, "energy_step": 2.0, "energy_window": 60.0,
              "angles": 16, "t_end": 20.0, "n_times": 201, "snapshots": 11, "pl_points": 50, **kinetics}
    body = "\n".join(f"{k} = {str(v).lower() if isinstance(v, bool) else repr(v)}" for k, v in values.items())
    text = f'[run]\nworkflow = "kinetics"\n\n[structure]\nlayers = ["MoSe2", "WSe2"]\n\n[kinetics]\n{body}\n'
    if sweep:
        text += "\n[sweep]\ntemperatures = [77.0, 300.0]\ndelta_e = [265.0, 315.0]\n"
        if substrates:
            text += f"substrates = {list(substrates)!r}\n".replace("'", '"')
    return text


# -- valley workflow (seed 002) ------------------------------------------------------

VALLEY_SMALL = """
[run]
workflow = "valley"
[valley]
temperatures = [300.0, 20.0]
t_end = 4.0
dt = 0.5
dq = 0.05
profile_dt = 1.0
profile_dq = 0.08
profile_harmonics = 3
profile_k_nodes = 4
profile_k_panels = 2
profile_r_points = 21
profile_chunk = 3
"""

# -- valley Monte Carlo (tests/workflows/test_valley.py, tests/parallel/test_valley_mpi.py) --------

VALLEY_MC_SMALL = """
[run]
workflow = "valley"
[valley]
temperatures = [300.0, 77.0]
t_end = 3.0
dt = 0.5
dq = 0.05
profiles = false
monte_carlo = true
[monte_carlo]
particles = 3000
batches = 6
dt = 1.0
r_max = 1500.0
r_bins = 15
"""


# -- the output contract (docs/output.md) -------------------------------------------

def documented_results():
    """{workflow: [regex of a /results dataset path relative to /results]} from docs/output.md.

    A section ``## `name``` documents its datasets in the first column of its tables
    (``/results/`` optional; several names per cell; ``a/{x, y}`` for a/x and a/y; ``<name>`` for
    any one path component); a backticked ``/results/.../<name>`` in the section's text is a group
    whose rows are relative to it (the wannier species groups).
    """
    import re
    text = (ROOT / "docs" / "output.md").read_text(encoding="utf-8")
    parts = re.split(r"^## `(\w+)`\s*$", text, flags=re.M)
    out = {}
    for name, body in zip(parts[1::2], parts[2::2]):
        names, groups = [], []
        for line in body.splitlines():
            if line.startswith("| `"):
                for cell in re.findall(r"`([^`]+)`", line.split("|")[1]):
                    cell = cell.strip().removeprefix("/results/")
                    brace = re.fullmatch(r"(.*)\{([^}]*)\}(.*)", cell)
                    names += ([brace.group(1) + b.strip() + brace.group(3) for b in brace.group(2).split(",")]
                              if brace else [cell])
            elif not line.startswith("|"):
                groups += [g.removeprefix("/results/") + "/" for g in re.findall(r"`(/results/[^`]*<[^`]*>)`", line)]
        out[name] = [re.sub(r"<[^>]*>", "[^/]+", re.escape(g + n).replace(r"\<", "<").replace(r"\>", ">"))
                     for g in groups or [""] for n in names]
    return out


def undocumented_results(path, documented=None):
    """(workflow, sorted /results dataset paths of run file ``path`` that docs/output.md does not
    name in its workflow's section)."""
    import re

    import h5py
    documented = documented_results() if documented is None else documented
    with h5py.File(path, "r") as f:
        workflow = f.attrs["workflow"]
        workflow = workflow.decode() if isinstance(workflow, bytes) else str(workflow)
        written = []
        f["results"].visititems(lambda key, obj: written.append(key) if isinstance(obj, h5py.Dataset) else None)
    patterns = documented.get(workflow, [])
    return workflow, sorted(k for k in written if not any(re.fullmatch(p, k) for p in patterns))
