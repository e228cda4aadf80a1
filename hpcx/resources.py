"""How much memory a rank may use, and the refusal of a run whose estimate does not fit.

The limit per rank is the smallest of what the node and the job allow, each
converted to "bytes this rank may hold in total" (its current resident set
included):

- ``MemAvailable`` of ``/proc/meminfo``, shared by the ranks on the node;
- the cgroup (v2 ``memory.max``, v1 ``memory.limit_in_bytes``) of the process
  and of every parent cgroup, minus what the cgroup already uses (its
  working set: usage without inactive page cache), shared by the ranks on
  the node;
- SLURM's ``SLURM_MEM_PER_NODE`` (MiB, shared by the ranks on the node) or
  ``SLURM_MEM_PER_CPU`` (MiB, times ``SLURM_CPUS_PER_TASK``);
- the address-space limit ``ulimit -v`` (``RLIMIT_AS``) of the process.

``[run] memory_limit`` (GiB per rank) replaces the detected limit.  A run is
refused when what the workflow will add (its ``estimate_memory``) exceeds
:data:`SAFETY` times what is still free of the limit (the limit minus the
rank's current resident set);
``[run] allow_oversubscribe_memory = true`` turns the refusal into a warning.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import socket
from pathlib import Path

from .errors import ResourceError

GIB = 2 ** 30
MIB = 2 ** 20
SAFETY = 0.9            # a run may plan to use at most this fraction of the free memory
_UNLIMITED = 2 ** 60    # cgroup v1 reports "no limit" as a number close to 2^63


@dataclasses.dataclass(frozen=True)
class MemoryBudget:
    """Memory one rank may hold in total (bytes), which limit decides it, and its RSS now."""

    limit: int | None       # None: nothing limits this rank (no source could be read)
    source: str             # e.g. "MemAvailable 21.4 GiB / 2 ranks on node vm"
    rss: int                # this rank's resident set when the budget was taken


def gib(n_bytes):
    """'1.25 GiB' (MiB below 1 GiB, '3.1e+09 GiB' from a million GiB on) for a byte count."""
    if n_bytes is None:
        return "unlimited"
    if n_bytes >= 1e6 * GIB:
        return f"{n_bytes / GIB:.2g} GiB"
    return f"{n_bytes / GIB:.2f} GiB" if n_bytes >= GIB else f"{n_bytes / MIB:.0f} MiB"


def ranks_on_node(comm):
    """Number of ranks of ``comm`` on this rank's node (collective: one allgather)."""
    host = socket.gethostname()
    return max(1, sum(1 for h in comm.allgather(host) if h == host))


def _status(root, key):
    """A 'VmRSS'-style field of /proc/self/status, bytes (None if unreadable)."""
    try:
        for line in (Path(root) / "proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def current_rss(root="/"):
    """This process's resident set size, bytes (0 if unknown)."""
    return _status(root, "VmRSS") or 0


def peak_rss(root="/"):
    """This process's peak resident set size since it started (VmHWM), bytes (0 if unknown)."""
    return _status(root, "VmHWM") or 0


def _meminfo_available(root):
    try:
        for line in (Path(root) / "proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _read_int(path):
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    if text == "max":
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return None if value >= _UNLIMITED else value


def _inactive_file(path, key):
    try:
        for line in Path(path).read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def _cgroup_dirs(root):
    """[(directory, version)] of the memory cgroups of this process, leaf to top."""
    root = Path(root)
    try:
        lines = (root / "proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, rel = parts
        if controllers == "":
            base, version = root / "sys/fs/cgroup", 2
        elif "memory" in controllers.split(","):
            base, version = root / "sys/fs/cgroup/memory", 1
        else:
            continue
        leaf = base / rel.lstrip("/")
        dirs = [leaf, *[p for p in leaf.parents if p.is_relative_to(base)]]
        out += [(d, version) for d in dirs if d.is_dir()]
    return out


def cgroup_headroom(root="/"):
    """Smallest (limit - working set) over the memory cgroups of this process, bytes (None: no limit)."""
    best = None
    for directory, version in _cgroup_dirs(root):
        if version == 2:
            limit, usage = _read_int(directory / "memory.max"), _read_int(directory / "memory.current")
            inactive = _inactive_file(directory / "memory.stat", "inactive_file")
        else:
            limit = _read_int(directory / "memory.limit_in_bytes")
            usage = _read_int(directory / "memory.usage_in_bytes")
            inactive = _inactive_file(directory / "memory.stat", "total_inactive_file")
        if limit is None:
            continue
        room = max(limit - max((usage or 0) - inactive, 0), 0)
        best = room if best is None else min(best, room)
    return best


def _slurm_limit(environ, on_node):
    """(bytes per rank, description) from SLURM's memory request, or None."""
    try:
        if environ.get("SLURM_MEM_PER_CPU"):
            cpus = int(environ.get("SLURM_CPUS_PER_TASK") or 1)
            per_rank = int(environ["SLURM_MEM_PER_CPU"]) * MIB * cpus
            return per_rank, f"SLURM_MEM_PER_CPU {environ['SLURM_MEM_PER_CPU']} MiB x {cpus} cpu(s) per task"
        if environ.get("SLURM_MEM_PER_NODE"):
            node = int(environ["SLURM_MEM_PER_NODE"]) * MIB
            if node > 0:
                return node // on_node, (f"SLURM_MEM_PER_NODE {environ['SLURM_MEM_PER_NODE']} MiB / "
                                         f"{on_node} rank(s) on the node")
    except ValueError:
        return None
    return None


def _address_space_limit(root, rss):
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    vsize = _status(root, "VmSize") or 0
    return rss + max(soft - vsize, 0), f"ulimit -v {gib(soft)} (address space, {gib(vsize)} mapped now)"


def memory_budget(on_node=1, memory_limit_gib=0.0, environ=None, root="/"):
    """The :class:`MemoryBudget` of this rank (rank-local; ``on_node`` from :func:`ranks_on_node`).

    ``memory_limit_gib`` > 0 (``[run] memory_limit``) replaces every detected limit.
    """
    environ = os.environ if environ is None else environ
    rss = current_rss(root)
    if memory_limit_gib and memory_limit_gib > 0:
        return MemoryBudget(int(memory_limit_gib * GIB), f"[run] memory_limit = {memory_limit_gib:g} GiB", rss)
    node = f"{on_node} rank(s) on node {socket.gethostname()}"
    candidates = []
    available = _meminfo_available(root)
    if available is not None:
        candidates.append((rss + available // on_node, f"MemAvailable {gib(available)} / {node}"))
    room = cgroup_headroom(root)
    if room is not None:
        candidates.append((rss + room // on_node, f"cgroup headroom {gib(room)} / {node}"))
    for found in (_slurm_limit(environ, on_node), _address_space_limit(root, rss)):
        if found is not None:
            candidates.append(found)
    if not candidates:
        return MemoryBudget(None, "no memory limit could be read", rss)
    limit, source = min(candidates)
    return MemoryBudget(int(limit), source, rss)


def check_memory(estimate, budget, *, workflow, keys=(), allow_oversubscribe=False, source="config"):
    """The log line of the memory check; raises :class:`ResourceError` when the run cannot fit.

    ``estimate`` is the workflow's extra peak per rank (bytes); the planned
    total is ``budget.rss + estimate``.  ``keys`` are the config keys that
    drive the estimate (named in the refusal).
    """
    total = budget.rss + int(estimate)
    line = (f"memory estimate: {gib(total)} per rank at peak ({gib(estimate)} for workflow {workflow} "
            f"+ {gib(budget.rss)} in use); limit {gib(budget.limit)} per rank ({budget.source})")
    if budget.limit is None or estimate <= SAFETY * (budget.limit - budget.rss):
        return line
    hint = ", ".join(keys) if keys else "the sizes of the config"
    room = max(budget.limit - budget.rss, 0)
    message = (f"{source}: memory: the run needs about {gib(estimate)} more per rank ({gib(total)} at peak), "
               f"more than {SAFETY:.0%} of the {gib(room)} still free of the {gib(budget.limit)} per rank "
               f"({budget.source}); reduce "
               f"{hint}, or give each rank more memory (fewer ranks per node, a larger job memory "
               f"request), or set [run] memory_limit (GiB per rank) or [run] allow_oversubscribe_memory = true")
    if allow_oversubscribe:
        return line + " -- OVER the limit, continuing because allow_oversubscribe_memory = true"
    raise ResourceError(message)
