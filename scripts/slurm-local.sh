#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for testing the job scripts
# (`make test-slurm`, docs/jobscripts.md "Testing the scripts under SLURM").
#
#   scripts/slurm-local.sh start     install (root, Debian) if missing, configure, start, wait for idle
#   scripts/slurm-local.sh stop      stop the daemons this script started (by PID)
#   scripts/slurm-local.sh status    daemons and `sinfo`
#   scripts/slurm-local.sh env       print `export SLURM_CONF=...` for sbatch/srun/squeue
#
# Everything lives in a private directory (default build/slurm): slurm.conf,
# controller state, slurmd spool, logs, PID files and a private munge socket,
# so the daemons of a Debian installation are neither needed nor touched.
# `start` wipes the previous state (no jobs survive a restart).  The client
# commands find the cluster through SLURM_CONF, which `start` prints.
#
# Packages (Debian 12, SLURM 22.05): slurm-wlm (slurmctld, slurmd, slurm-client) and munge.
# When run as root they are installed with apt-get if missing; otherwise the
# script stops and prints the command.
#
# The configuration: one node with the cores and memory of this host (from
# `slurmd -C`), one partition `local`, cores (not memory) as consumable
# resources, MpiDefault=pmix so Open MPI programs start under srun,
# proctrack/linuxproc + task/none (no cgroups needed, works in containers),
# no accounting, KillWait=5 s, requeued jobs eligible after 5 s and a
# scheduling pass every 2 s (a requeued job restarts within seconds).
#
# Environment:
#   HPCX_SLURM_DIR   state directory (default <repo>/build/slurm)
#   HPCX_SLURM_PORT  slurmctld port; slurmd uses the next one (default 6817)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${HPCX_SLURM_DIR:-$ROOT/build/slurm}"
mkdir -p "$STATE"
STATE="$(cd "$STATE" && pwd)"
PORT="${HPCX_SLURM_PORT:-6817}"
CONF="$STATE/etc/slurm.conf"
MUNGE_DIR="$STATE/munge"
MUNGE_SOCKET="$MUNGE_DIR/munge.socket.2"
PACKAGES=(slurm-wlm munge)
PARTITION=local

say() { printf 'slurm-local: %s\n' "$*"; }
die() { printf 'slurm-local: ERROR: %s\n' "$*" >&2; exit 1; }

# --- packages -------------------------------------------------------------------
install_packages() {
    local missing=() pkg status
    for pkg in "${PACKAGES[@]}"; do
        status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
        [[ "$status" == installed ]] || missing+=("$pkg")
    done
    ((${#missing[@]})) || return 0
    if [[ "$(id -u)" -ne 0 ]]; then
        die "missing Debian packages: ${missing[*]}; install them with
    sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}"
    fi
    say "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # The packages' own services are not used (policy-rc.d may also keep them from starting).
    apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
}

# --- munge ------------------------------------------------------------------------
munge_key() {
    local key=/etc/munge/munge.key
    [[ -s "$key" ]] && return 0
    say "creating $key"
    if command -v mungekey >/dev/null 2>&1; then
        mungekey --create --keyfile="$key"
    else
        dd if=/dev/urandom bs=1 count=1024 of="$key" status=none
    fi
    chown munge:munge "$key"
    chmod 0400 "$key"
}

start_munge() {
    munge_key
    # munged refuses a socket directory that is writable by others or not
    # searchable by all; clients (slurmctld, slurmd, srun) run as root.
    mkdir -p "$MUNGE_DIR"
    chown munge:munge "$MUNGE_DIR"
    chmod 0711 "$MUNGE_DIR"
    rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
    runuser -u munge -- munged --socket="$MUNGE_SOCKET" --pid-file="$MUNGE_DIR/munged.pid" \
        --log-file="$MUNGE_DIR/munged.log" --seed-file="$MUNGE_DIR/munged.seed" \
        || die "munged did not start (log: $MUNGE_DIR/munged.log)"
    munge -n -S "$MUNGE_SOCKET" | unmunge -S "$MUNGE_SOCKET" >/dev/null \
        || die "munge does not answer on $MUNGE_SOCKET"
}

# --- slurm.conf ---------------------------------------------------------------------
pmix_plugin() {
    # The pmix plugin names this SLURM offers (22.05 on Debian: pmix, pmix_v4).
    local names
    names="$(srun --mpi=list 2>&1 | sed -n 's/^[[:space:]]*\(pmix[a-z0-9_]*\).*/\1/p' | sort -u)"
    if grep -qx pmix <<<"$names"; then echo pmix
    elif [[ -n "$names" ]]; then head -n1 <<<"$names"
    else die "this SLURM has no pmix plugin (srun --mpi=list): Open MPI programs cannot start under srun"
    fi
}

write_conf() {
    local host node mpi
    host="$(hostname -s)"
    # "NodeName=h CPUs=.. Boards=.. SocketsPerBoard=.. CoresPerSocket=.. ThreadsPerCore=.. RealMemory=.."
    node="$(slurmd -C | sed -n 's/^\(NodeName=.*\)$/\1/p' | head -n1)"
    [[ -n "$node" ]] || die "slurmd -C printed no node line"
    # leave 5% of the memory (at least 512 MB) to the system
    node="$(awk '{for (i = 1; i <= NF; i++) if ($i ~ /^RealMemory=/) {split($i, m, "="); r = int(m[2] * 0.95);
                  if (m[2] - r < 512) r = m[2] - 512; $i = "RealMemory=" r} print}' <<<"$node")"
    mkdir -p "$STATE/etc"
    cat >"$CONF" <<EOF
# One-node test cluster written by scripts/slurm-local.sh (do not edit: rewritten on start).
ClusterName=hpcx-local
SlurmctldHost=$host
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET,cred_expire=5
CredType=cred/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
SchedulerType=sched/backfill
# schedule every 2 s (defaults 60/30 s), so a requeued job restarts promptly
SchedulerParameters=sched_interval=2,bf_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
JobRequeue=1
ReturnToService=2
KillWait=5
OverTimeLimit=0
MinJobAge=600
InactiveLimit=0
Waittime=0
$node State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
    # srun lists its MPI plugins only with a valid slurm.conf: ask it, then set the default.
    mpi="$(SLURM_CONF="$CONF" pmix_plugin)"
    sed -i "s/^MpiDefault=none\$/MpiDefault=$mpi/" "$CONF"
}

# --- daemons ----------------------------------------------------------------------
pid_of() {  # pid_of NAME: the PID in NAME's PID file if that process is alive
    local file
    case "$1" in
        munged) file="$MUNGE_DIR/munged.pid" ;;
        *) file="$STATE/run/$1.pid" ;;
    esac
    [[ -s "$file" ]] || return 1
    local pid
    pid="$(cat "$file")"
    kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

node_state() {
    SLURM_CONF="$CONF" sinfo -h -N -p "$PARTITION" -o '%T' 2>/dev/null | head -n1
}

stop_one() {  # stop_one NAME: SIGTERM, then SIGKILL after 15 s
    local pid i
    pid="$(pid_of "$1")" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || { say "stopped $1 (pid $pid)"; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    say "killed $1 (pid $pid)"
}

cmd_stop() {
    # jobs first, so no job step outlives its slurmd
    if pid_of slurmctld >/dev/null; then
        SLURM_CONF="$CONF" scancel --quiet --partition="$PARTITION" 2>/dev/null || true
    fi
    stop_one slurmd
    stop_one slurmctld
    stop_one munged
}

cmd_start() {
    install_packages
    if pid_of slurmctld >/dev/null || pid_of slurmd >/dev/null || pid_of munged >/dev/null; then
        say "already running: restarting from a clean state"
        cmd_stop
    fi
    rm -rf "$STATE/ctld" "$STATE/spool" "$STATE/run" "$STATE/log"
    mkdir -p "$STATE/ctld" "$STATE/spool" "$STATE/run" "$STATE/log"
    write_conf
    start_munge
    slurmctld -i -f "$CONF" || die "slurmctld did not start (log: $STATE/log/slurmctld.log)"
    local i
    for ((i = 0; i < 100; i++)); do
        SLURM_CONF="$CONF" scontrol ping 2>/dev/null | grep -q UP && break
        sleep 0.2
    done
    slurmd -f "$CONF" || die "slurmd did not start (log: $STATE/log/slurmd.log)"
    local state=""
    for ((i = 0; i < 120; i++)); do
        state="$(node_state)"
        [[ "$state" == idle ]] && break
        sleep 0.5
    done
    if [[ "$state" != idle ]]; then
        tail -n 20 "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log" >&2 || true
        cmd_stop
        die "node not idle after 60 s (state '${state:-unknown}')"
    fi
    say "up: $(SLURM_CONF="$CONF" sinfo -h -N -o '%N %T, %c CPUs, %m MB')  ($(grep -o '^MpiDefault=.*' "$CONF"))"
    say "use it with: export SLURM_CONF=$CONF"
}

cmd_status() {
    local name pid rc=0
    for name in munged slurmctld slurmd; do
        if pid="$(pid_of "$name")"; then say "$name running (pid $pid)"
        else say "$name not running"; rc=3
        fi
    done
    [[ $rc -ne 0 ]] || SLURM_CONF="$CONF" sinfo -N
    return $rc
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) echo "export SLURM_CONF=$CONF" ;;
    *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
