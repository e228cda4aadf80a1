"""Build the Cython kernels of hpcx.

All project metadata lives in pyproject.toml; this file only declares the
compiled extensions: every ``kernels/<stem>.pyx`` becomes the extension module
``hpcx._kernels.<stem>``.

Build flags: ``-O3`` always, ``-fopenmp`` (compile and link) when the C
compiler accepts it.  Like Dedalus's setup.py, the build prints what it found
(compiler, numpy include dir, OpenMP) so a cluster build log shows which
toolchain was used.

Environment knobs:
    HPCX_NO_OPENMP=1    build without -fopenmp even if the compiler has it
    HPCX_CFLAGS="..."   extra compile flags appended to the defaults
                        (e.g. "-march=native" for a build used on one cluster)
    CC                  the C compiler, as usual for setuptools

Local installs use Debian's numpy and Cython (``pip install -e .
--no-build-isolation``, see docs/install.md); on a cluster ``pip install .``
also works (pip then builds in an isolated environment with PyPI's Cython and
numpy from [build-system] in pyproject.toml).
"""

import os
import shlex
import sys
import tempfile
from pathlib import Path

import numpy
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
KERNEL_DIR = "kernels"

COMPILE_ARGS = ["-O3"]
OPENMP_FLAG = "-fopenmp"


def log(msg):
    print(f"hpcx setup.py: {msg}", flush=True)


def compiler_accepts_openmp(compiler):
    """Compile and link a tiny OpenMP program with ``compiler``.

    ``compiler`` is the setuptools CCompiler that will build the extensions,
    so the test uses the same executable and flags as the real build.
    Returns (ok, reason).
    """
    code = (
        "#include <omp.h>\n"
        "int main(void) { int n = 0;\n"
        "#pragma omp parallel reduction(+:n)\n"
        "n += 1;\n"
        "return omp_get_max_threads() > 0 ? 0 : 1; }\n"
    )
    with tempfile.TemporaryDirectory(prefix="hpcx-omp-") as tmp:
        src = os.path.join(tmp, "omp_test.c")
        with open(src, "w") as f:
            f.write(code)
        try:
            # Silence the compiler: a failure here is an answer, not an error.
            with open(os.devnull, "w") as devnull:
                old_out, old_err = os.dup(1), os.dup(2)
                os.dup2(devnull.fileno(), 1)
                os.dup2(devnull.fileno(), 2)
                try:
                    objs = compiler.compile([src], output_dir=tmp, extra_postargs=[OPENMP_FLAG])
                    compiler.link_executable(
                        objs, "omp_test", output_dir=tmp, extra_postargs=[OPENMP_FLAG]
                    )
                finally:
                    os.dup2(old_out, 1)
                    os.dup2(old_err, 2)
                    os.close(old_out)
                    os.close(old_err)
        except Exception as exc:  # CompileError, LinkError, missing compiler
            return False, f"{type(exc).__name__}: {exc}".strip()
    return True, "test program compiled and linked"


class BuildExt(build_ext):
    """build_ext that probes the compiler for OpenMP once, then sets flags."""

    def build_extensions(self):
        cc = getattr(self.compiler, "compiler_so", None) or ["?"]
        log(f"C compiler: {' '.join(cc)}")
        log(f"numpy {numpy.__version__} include dir: {numpy.get_include()}")

        extra = shlex.split(os.environ.get("HPCX_CFLAGS", ""))
        if extra:
            log(f"extra compile flags from HPCX_CFLAGS: {' '.join(extra)}")

        if os.environ.get("HPCX_NO_OPENMP", "") not in ("", "0"):
            use_omp, why = False, "disabled by HPCX_NO_OPENMP"
        else:
            use_omp, why = compiler_accepts_openmp(self.compiler)
        log(f"OpenMP ({OPENMP_FLAG}): {'yes' if use_omp else 'NO'} ({why})")
        if not use_omp:
            log("building the kernels single-threaded")

        omp = [OPENMP_FLAG] if use_omp else []
        for ext in self.extensions:
            ext.extra_compile_args = COMPILE_ARGS + omp + extra + list(ext.extra_compile_args)
            ext.extra_link_args = omp + list(ext.extra_link_args)
        super().build_extensions()


def kernel_extensions():
    """One Extension per kernels/*.pyx, cythonized."""
    sources = sorted((HERE / KERNEL_DIR).glob("*.pyx"))
    if not sources:
        log(f"no {KERNEL_DIR}/*.pyx found: building no extensions")
        return []

    import Cython
    from Cython.Build import cythonize

    log(f"Cython {Cython.__version__} from {os.path.dirname(Cython.__file__)}")
    extensions = []
    for pyx in sources:
        rel = pyx.relative_to(HERE).as_posix()  # relative paths keep sdists relocatable
        name = f"hpcx._kernels.{pyx.stem}"
        log(f"extension {name} <- {rel}")
        extensions.append(
            Extension(
                name,
                sources=[rel],
                include_dirs=[numpy.get_include(), KERNEL_DIR],
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            )
        )
    return cythonize(
        extensions,
        include_path=[KERNEL_DIR],
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
        },
        # Regenerate C only when a .pyx/.pxd changed; "make clean" removes it.
        force=False,
        quiet=False,
    )


log(f"python {sys.version.split()[0]} at {sys.executable}")
setup(ext_modules=kernel_extensions(), cmdclass={"build_ext": BuildExt})
