"""The memory limit of a rank from /proc, the cgroup, SLURM and ulimit, and the refusal."""

import pytest

import hpcx.resources as res
from hpcx.errors import ResourceError

GIB, MIB = res.GIB, res.MIB


def _node(tmp_path, available_kib=16 * 2 ** 20, rss_kib=100 * 1024, vsize_kib=2 * 2 ** 20, cgroup="0::/\n"):
    """A fake / with /proc/meminfo, /proc/self/status and /proc/self/cgroup."""
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/meminfo").write_text(f"MemTotal: {2 * available_kib} kB\nMemAvailable: {available_kib} kB\n")
    (tmp_path / "proc/self/status").write_text(f"Name: python\nVmSize: {vsize_kib} kB\nVmRSS: {rss_kib} kB\n")
    (tmp_path / "proc/self/cgroup").write_text(cgroup)
    return tmp_path


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture(autouse=True)
def no_ulimit(monkeypatch):
    monkeypatch.setattr(res.resource, "getrlimit", lambda kind: (res.resource.RLIM_INFINITY,) * 2)


def test_mem_available_is_shared_by_the_ranks_of_a_node(tmp_path):
    root = _node(tmp_path)
    one = res.memory_budget(1, environ={}, root=root)
    four = res.memory_budget(4, environ={}, root=root)
    assert one.rss == 100 * MIB
    assert one.limit == 100 * MIB + 16 * GIB and four.limit == 100 * MIB + 4 * GIB
    assert "MemAvailable 16.00 GiB / 4 rank(s)" in four.source


def test_cgroup_v2_limit_minus_working_set_wins_over_mem_available(tmp_path):
    root = _node(tmp_path, cgroup="0::/job/step\n")
    cg = root / "sys/fs/cgroup/job"
    _write(cg / "memory.max", str(8 * GIB))
    _write(cg / "memory.current", str(3 * GIB))
    _write(cg / "memory.stat", f"anon 1\ninactive_file {1 * GIB}\n")
    _write(cg / "step/memory.max", "max")                    # the leaf has no limit of its own
    _write(cg / "step/memory.current", str(2 * GIB))
    budget = res.memory_budget(2, environ={}, root=root)
    assert res.cgroup_headroom(root) == 6 * GIB               # 8 - (3 - 1 inactive page cache)
    assert budget.limit == 100 * MIB + 3 * GIB and "cgroup headroom 6.00 GiB / 2 rank(s)" in budget.source


def test_cgroup_v1_unlimited_value_is_no_limit(tmp_path):
    root = _node(tmp_path, cgroup="4:memory:/slurm/uid_0/job_7\n0::/\n")
    cg = root / "sys/fs/cgroup/memory/slurm"
    _write(cg / "memory.limit_in_bytes", str(4 * GIB))
    _write(cg / "memory.usage_in_bytes", str(1 * GIB))
    _write(cg / "memory.stat", "total_inactive_file 0\n")
    _write(cg / "uid_0/job_7/memory.limit_in_bytes", "9223372036854771712")
    _write(cg / "uid_0/job_7/memory.usage_in_bytes", str(GIB))
    assert res.cgroup_headroom(root) == 3 * GIB


@pytest.mark.parametrize("environ, limit, fragment", [
    ({"SLURM_MEM_PER_NODE": "4096"}, 2 * GIB, "SLURM_MEM_PER_NODE 4096 MiB / 2 rank(s)"),
    ({"SLURM_MEM_PER_CPU": "1000", "SLURM_CPUS_PER_TASK": "3"}, 3000 * MIB, "x 3 cpu(s) per task"),
    ({"SLURM_MEM_PER_NODE": "0"}, 100 * MIB + 8 * GIB, "MemAvailable"),     # --mem=0: the whole node
])
def test_slurm_request(tmp_path, environ, limit, fragment):
    budget = res.memory_budget(2, environ=environ, root=_node(tmp_path))
    assert budget.limit == limit and fragment in budget.source


def test_address_space_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(res.resource, "getrlimit", lambda kind: (3 * GIB, 3 * GIB))
    budget = res.memory_budget(1, environ={}, root=_node(tmp_path, vsize_kib=2 ** 20))
    assert budget.limit == 100 * MIB + 2 * GIB and "ulimit -v" in budget.source


def test_memory_limit_key_replaces_detection(tmp_path):
    budget = res.memory_budget(8, memory_limit_gib=1.5, environ={"SLURM_MEM_PER_NODE": "10"},
                               root=_node(tmp_path))
    assert budget.limit == int(1.5 * GIB) and "[run] memory_limit = 1.5 GiB" in budget.source


def test_refusal_names_estimate_limit_and_keys():
    budget = res.MemoryBudget(limit=10 * GIB, source="MemAvailable 20.00 GiB / 2 rank(s) on node n1",
                              rss=GIB)
    fits = int(0.9 * 9 * GIB)                       # 90 % of the 9 GiB still free
    line = res.check_memory(fits, budget, workflow="wannier")
    assert "memory estimate: 9.10 GiB per rank at peak (8.10 GiB for" in line
    with pytest.raises(ResourceError) as info:
        res.check_memory(fits + 1, budget, workflow="wannier", keys=("wannier.n_r",), source="a.toml")
    message = str(info.value)
    for fragment in ("a.toml: memory:", "8.10 GiB more per rank (9.10 GiB at peak)",
                     "of the 9.00 GiB still free of the 10.00 GiB per rank",
                     "MemAvailable 20.00 GiB / 2 rank(s)", "reduce wannier.n_r", "memory_limit",
                     "allow_oversubscribe_memory"):
        assert fragment in message
    line = res.check_memory(20 * GIB, budget, workflow="wannier", allow_oversubscribe=True)
    assert "OVER the limit" in line


def test_the_real_node_has_a_limit():
    budget = res.memory_budget(1)
    assert budget.rss > 0 and budget.limit is not None and budget.limit > budget.rss


def test_byte_counts_read_at_every_size():
    assert res.gib(300 * MIB) == "300 MiB"
    assert res.gib(1.25 * GIB) == "1.25 GiB"
    assert res.gib(3.1e9 * GIB) == "3.1e+09 GiB"       # absurd requests stay one short line
    assert res.gib(None) == "unlimited"
