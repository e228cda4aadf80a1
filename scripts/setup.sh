#!/usr/bin/env bash
# Set up a local hpcx development environment, idempotently (`make setup`).
#
#   1. Debian packages: MPI, mpi4py, parallel h5py, complex PETSc/SLEPc
#      bindings, numpy/scipy, Cython, compilers, pytest.  Missing ones are
#      installed with apt-get when run as root; otherwise the script stops and
#      prints the command to run.
#   2. .venv from /usr/bin/python3 with --system-site-packages, so the venv
#      sees Debian's MPI-linked modules instead of PyPI wheels.
#   3. PETSC_DIR/SLEPC_DIR defaults for the complex builds, written into the
#      venv (a .pth file and bin/activate), so `.venv/bin/hpcx` and every rank
#      under mpirun get complex petsc4py/slepc4py without any export.
#   4. `pip install --no-build-isolation --no-deps -e '.[test,plot]'`, only
#      when pyproject.toml, setup.py or kernels/* changed since the last
#      install (stamp file .venv/.hpcx-installed).
#   5. Checks that numpy/h5py/mpi4py come from Debian and PETSc is complex.
#
# Environment:
#   HPCX_PYTHON      base interpreter (default /usr/bin/python3; it must be
#                    the Python that Debian's python3-* packages are built for)
#   HPCX_VENV        venv directory (default .venv in the repository)
#   HPCX_FORCE_PIP=1 reinstall the package even if the stamp is fresh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BASE_PY="${HPCX_PYTHON:-/usr/bin/python3}"
VENV="${HPCX_VENV:-$ROOT/.venv}"
STAMP="$VENV/.hpcx-installed"
PIP_LOG="$ROOT/build/pip-install.log"

PETSC_COMPLEX=/usr/lib/petscdir/petsc3.18/x86_64-linux-gnu-complex
SLEPC_COMPLEX=/usr/lib/slepcdir/slepc3.18/x86_64-linux-gnu-complex

DEB_PACKAGES=(
    make gcc g++ python3-dev python3-venv python3-setuptools python3-wheel
    openmpi-bin libopenmpi-dev openssh-client
    python3-numpy python3-scipy cython3
    python3-mpi4py python3-h5py-mpi python3-h5py-serial
    python3-petsc4py-complex python3-slepc4py-complex
    python3-matplotlib python3-pytest python3-pytest-timeout
)

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

# --- 1. Debian packages -----------------------------------------------------
missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
    [[ "$status" == installed ]] || missing+=("$pkg")
done

if ((${#missing[@]})); then
    if [[ "$(id -u)" -eq 0 ]]; then
        say "installing missing Debian packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q "${missing[@]}" </dev/null
    else
        {
            echo "setup: these Debian packages are missing:"
            printf '    %s\n' "${missing[@]}"
            echo "setup: install them (needs root), then run 'make setup' again:"
            echo "    sudo apt-get update && sudo apt-get install -y ${missing[*]}"
            echo "setup: (on a cluster without root, see docs/install.md, 'Cluster')"
        } >&2
        exit 1
    fi
else
    say "Debian packages: all ${#DEB_PACKAGES[@]} present"
fi

[[ -x "$BASE_PY" ]] || die "$BASE_PY not found (it comes with python3-venv/python3-dev)"
[[ -d "$PETSC_COMPLEX" ]] || die "complex PETSc not found at $PETSC_COMPLEX (python3-petsc4py-complex)"
[[ -d "$SLEPC_COMPLEX" ]] || die "complex SLEPc not found at $SLEPC_COMPLEX (python3-slepc4py-complex)"

# --- 2. the virtual environment ----------------------------------------------
if [[ -x "$VENV/bin/python" ]] && ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    say "$VENV is broken (its python does not start): recreating it"
    rm -rf "$VENV"
fi
if [[ ! -x "$VENV/bin/python" ]]; then
    say "creating $VENV from $BASE_PY with --system-site-packages"
    "$BASE_PY" -m venv --system-site-packages "$VENV"
else
    say "venv: $VENV exists"
fi
VPY="$VENV/bin/python"

# --- 3. complex PETSc/SLEPc defaults inside the venv -------------------------
# Debian's petsc4py.pth/slepc4py.pth (in /usr/lib/python3/dist-packages) add
# $PETSC_DIR/lib/python3/dist-packages to sys.path, defaulting to
# /usr/lib/petsc, which is the real-scalar build (or absent).  The venv's
# site-packages is processed before the system one, so this .pth sets the
# complex defaults first; it also appends the paths itself so it does not
# depend on Debian's .pth.  An explicitly exported PETSC_DIR/SLEPC_DIR wins.
SITE="$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
PTH="$SITE/hpcx-petsc-complex.pth"
pth_text="import os, sys; [sys.path.append(p) for p in (os.path.join(os.environ.setdefault(k, v), 'lib/python3/dist-packages') for k, v in (('PETSC_DIR', '$PETSC_COMPLEX'), ('SLEPC_DIR', '$SLEPC_COMPLEX'))) if os.path.isdir(p) and p not in sys.path]"
if [[ ! -f "$PTH" ]] || [[ "$(cat "$PTH")" != "$pth_text" ]]; then
    say "writing $PTH"
    printf '%s\n' "$pth_text" >"$PTH"
fi

ACTIVATE="$VENV/bin/activate"
if ! grep -q '# hpcx: complex PETSc/SLEPc' "$ACTIVATE"; then
    say "adding PETSC_DIR/SLEPC_DIR defaults to $ACTIVATE"
    cat >>"$ACTIVATE" <<EOF

# hpcx: complex PETSc/SLEPc builds (BSE Hamiltonians are complex Hermitian)
export PETSC_DIR="\${PETSC_DIR:-$PETSC_COMPLEX}"
export SLEPC_DIR="\${SLEPC_DIR:-$SLEPC_COMPLEX}"
EOF
fi

# --- 4. install hpcx (editable) ----------------------------------------------
# --no-build-isolation: build the kernels with Debian's Cython and numpy.
# --no-deps: Debian's h5py has no "h5py" distribution metadata, so pip would
#   otherwise download a serial h5py wheel that shadows python3-h5py-mpi.
#   All dependencies are Debian packages checked above and below.
stale=""
if [[ ! -f "$STAMP" ]]; then
    stale="not installed yet"
elif [[ "${HPCX_FORCE_PIP:-0}" != 0 ]]; then
    stale="HPCX_FORCE_PIP set"
else
    changed="$(find pyproject.toml setup.py kernels hpcx/__init__.py -newer "$STAMP" \
        \( -name '*.toml' -o -name '*.py' -o -name '*.pyx' -o -name '*.pxd' -o -name '*.h' \) \
        -print -quit 2>/dev/null || true)"
    [[ -z "$changed" ]] || stale="$changed changed"
    # an editable install whose compiled kernels were removed (make clean)
    for pyx in kernels/*.pyx; do
        [[ -e "$pyx" ]] || continue
        stem="$(basename "$pyx" .pyx)"
        compgen -G "hpcx/_kernels/$stem.*.so" >/dev/null || stale="hpcx/_kernels/$stem.*.so missing"
    done
fi

if [[ -n "$stale" ]]; then
    say "pip install -e . ($stale); log: ${PIP_LOG#"$ROOT"/}"
    mkdir -p "$(dirname "$PIP_LOG")"
    if ! "$VPY" -m pip install --no-build-isolation --no-deps --no-input \
        --disable-pip-version-check -v -e '.[test,plot]' >"$PIP_LOG" 2>&1; then
        tail -n 40 "$PIP_LOG" >&2
        die "pip install failed (full log: $PIP_LOG)"
    fi
    # what setup.py found (compiler, numpy, OpenMP, extensions)
    grep -o 'hpcx setup.py: .*' "$PIP_LOG" | awk '!seen[$0]++' | sed 's/^/setup:   /' || true
    touch "$STAMP"
else
    say "hpcx: installed and up to date (stamp ${STAMP#"$ROOT"/})"
fi

# --- 4b. the linter ----------------------------------------------------------------
# ruff is not packaged by Debian 12: a pinned wheel from PyPI into the venv.
RUFF_VERSION=0.17.6
if [[ "$("$VENV/bin/ruff" --version 2>/dev/null)" != "ruff $RUFF_VERSION" ]]; then
    say "pip install ruff==$RUFF_VERSION (linter, make test)"
    "$VPY" -m pip install --no-input --disable-pip-version-check -q "ruff==$RUFF_VERSION" \
        || die "could not install ruff==$RUFF_VERSION from PyPI"
fi

# --- 5. check the environment --------------------------------------------------
# Run without PETSC_DIR/SLEPC_DIR so the check proves the venv sets them.
env -u PETSC_DIR -u SLEPC_DIR "$VPY" - <<'EOF' || die "environment check failed (see above)"
import importlib, sys

ok = True
def bad(msg):
    global ok
    ok = False
    print(f"setup: ERROR: {msg}", file=sys.stderr)

for name in ("numpy", "scipy", "h5py", "mpi4py", "Cython", "pytest"):
    try:
        mod = importlib.import_module(name)
    except ImportError as exc:
        bad(f"cannot import {name}: {exc}")
        continue
    if not mod.__file__.startswith("/usr/lib/python3/dist-packages/"):
        bad(f"{name} comes from {mod.__file__}, not Debian's /usr/lib/python3/dist-packages "
            f"(remove it from the venv: .venv/bin/pip uninstall {name})")

try:
    from petsc4py import PETSc
    from slepc4py import SLEPc  # noqa: F401
    if PETSc.ScalarType.__name__ != "complex128":
        bad(f"petsc4py scalar type is {PETSc.ScalarType.__name__}, need complex128 "
            f"(PETSc from {PETSc.__file__})")
    else:
        import os
        print(f"setup: petsc4py/slepc4py: complex128 (PETSC_DIR={os.environ.get('PETSC_DIR')})")
except ImportError as exc:
    bad(f"cannot import petsc4py/slepc4py: {exc}")

try:
    import hpcx
    print(f"setup: hpcx {hpcx.__version__} from {hpcx.__path__[0]}")
except ImportError as exc:
    bad(f"cannot import hpcx: {exc}")

sys.exit(0 if ok else 1)
EOF
say "ready: $VENV/bin/hpcx (activate with: source ${VENV#"$ROOT"/}/bin/activate)"
