"""The ``moire`` run file: /results/{geometry,potential,basis,bands,dos,twist_scan} (docs/output.md)."""

from __future__ import annotations

import dataclasses

import numpy as np

ENERGY_ZERO = "energies relative to the free interlayer exciton at Q = 0 (no moiré potential)"


@dataclasses.dataclass
class Geometry:
    """The moiré superlattice: twist (deg), lattice constants and period (nm), vectors (nm, 1/nm)."""

    theta_deg: float
    lattice_constants: np.ndarray       # [2] electron layer, hole layer, nm
    period: float                       # a_M, nm
    cell_area: float                    # nm^2
    lattice_vectors: np.ndarray         # [2, 2] nm
    reciprocal_vectors: np.ndarray      # [3, 2] 1/nm
    high_symmetry_points: np.ndarray    # [3, 2] 1/nm
    high_symmetry_labels: list

    def write(self, writer, layers):
        g = "results/geometry"
        writer.group(g)
        writer.write(f"{g}/theta_deg", self.theta_deg, units="deg")
        writer.write(f"{g}/lattice_constants", self.lattice_constants, units="nm", attrs={"layers": layers})
        writer.write(f"{g}/period", self.period, units="nm", attrs={"definition": "a_M = 4 pi/(sqrt3 |g|)"})
        writer.write(f"{g}/cell_area", self.cell_area, units="nm^2")
        writer.write(f"{g}/lattice_vectors", self.lattice_vectors, units="nm",
                     attrs={"shape": "[2 (L1, L2), xy]"})
        writer.write(f"{g}/reciprocal_vectors", self.reciprocal_vectors, units="1/nm",
                     attrs={"definition": "g_n = C3^n (G_hole_layer - G_electron_layer), n = 0, 1, 2"})
        writer.write(f"{g}/high_symmetry_points", self.high_symmetry_points, units="1/nm")
        writer.write(f"{g}/high_symmetry_labels", self.high_symmetry_labels, units="label")


@dataclasses.dataclass
class Potential:
    """The continuum potential M(r) (meV) at the run's angle: the amplitudes A, B the bands use, their
    provenance ``attrs`` (potential kind, split, point-particle and effective amplitudes, form factors,
    1s binding energy, sources; docs/output.md), depth, hbar omega0, a map on x, y (nm)."""

    A: float
    B: float
    attrs: dict
    depth: float
    harmonic_energy: float
    x: np.ndarray
    y: np.ndarray
    map: np.ndarray                     # [y, x] meV

    def write(self, writer):
        p = "results/potential"
        writer.group(p, attrs=self.attrs)
        how = ("A_eff = A_point_particle (point particle)" if self.attrs["potential"] == "point_particle" else
               "seed 000 SI Eq. 8: 2 Re/-2 Im of v1 = s v_pp F_e + (1 - s) v_pp F_h, v_pp = (A_pp - i B_pp)/2")
        writer.write(f"{p}/A", self.A, units="meV", attrs={"source": self.attrs["source_A"], "definition": how})
        writer.write(f"{p}/B", self.B, units="meV", attrs={"source": self.attrs["source_B"], "definition": how})
        writer.write(f"{p}/depth", self.depth, units="meV", attrs={"definition": "U0 = -min M(r)"})
        writer.write(f"{p}/harmonic_energy", self.harmonic_energy, units="meV",
                     attrs={"definition": "hbar omega0 = hbar (2 pi/a_M) sqrt(2 U0/(3 M)), seed 003 Eq. 22"})
        writer.write(f"{p}/x", self.x, units="nm")
        writer.write(f"{p}/y", self.y, units="nm")
        writer.write(f"{p}/map", self.map, units="meV", attrs={"shape": "[y, x]", "definition": "M(r)"})


@dataclasses.dataclass
class PathBands:
    """Bands on gamma-kappa-m-gamma: Q (1/nm), arc length x (1/nm), corners, E (meV), v (nm/ps)."""

    Q: np.ndarray                       # [n_path, 2]
    x: np.ndarray                       # [n_path]
    ticks: np.ndarray
    labels: list
    energy: np.ndarray                  # [n_path, n_bands]
    velocity: np.ndarray                # [n_path, n_bands, 2]


@dataclasses.dataclass
class GridBands:
    """Bands on the n x n Monkhorst-Pack grid of the mBZ.

    ``energy`` [n_Q, n_bands] (meV) is whole on every rank; ``velocity``
    [n, n_bands, 2] (nm/ps) and ``vectors`` [n, n_bands, n_g] (None when not
    written) are the rows ``offset .. offset + n`` this rank solved (all rows
    after :meth:`Result.read`).
    """

    n: int
    Q: np.ndarray                       # [n_Q, 2] 1/nm
    fraction: np.ndarray                # [n_Q, 2]
    energy: np.ndarray
    velocity: np.ndarray
    vectors: np.ndarray | None
    offset: int
    bandwidth: float
    gap: float
    direct_gap: float


@dataclasses.dataclass
class Dos:
    """Gaussian density of states of the kept bands: energy (meV), per cell (1/meV), per area (1/(meV nm^2))."""

    sigma: float
    n_bands: int
    energy: np.ndarray
    per_cell: np.ndarray
    per_area: np.ndarray


@dataclasses.dataclass
class TwistScan:
    """Band extrema per twist angle (deg): widths and gaps (meV), periods (nm), hbar omega0 (meV)."""

    scan_grid: int
    theta_deg: np.ndarray
    bandwidth: np.ndarray
    gap: np.ndarray
    direct_gap: np.ndarray
    period: np.ndarray
    harmonic_energy: np.ndarray
    A_eff: np.ndarray
    B_eff: np.ndarray

    def write(self, writer):
        s = "results/twist_scan"
        writer.group(s, attrs={"scan_grid": self.scan_grid})
        writer.write(f"{s}/theta_deg", self.theta_deg, units="deg")
        writer.write(f"{s}/bandwidth", self.bandwidth, units="meV", attrs={"definition": "max E_0 - min E_0"})
        writer.write(f"{s}/gap", self.gap, units="meV", attrs={"definition": "min E_1 - max E_0"})
        writer.write(f"{s}/direct_gap", self.direct_gap, units="meV", attrs={"definition": "min_Q (E_1 - E_0)"})
        writer.write(f"{s}/period", self.period, units="nm")
        writer.write(f"{s}/harmonic_energy", self.harmonic_energy, units="meV")
        writer.write(f"{s}/A_eff", self.A_eff, units="meV", attrs={"definition": "cosine amplitude at each angle"})
        writer.write(f"{s}/B_eff", self.B_eff, units="meV", attrs={"definition": "sine amplitude at each angle"})


@dataclasses.dataclass
class Result:
    """A ``moire`` run: system, superlattice, potential, plane-wave basis, bands, DOS, twist scan."""

    system: str
    exciton_mass: float                 # m0
    electron_layer: str
    hole_layer: str
    geometry: Geometry
    potential: Potential
    shells: int
    g: np.ndarray                       # [n_g, 2] 1/nm
    s: np.ndarray                       # [n_g, 2] integers
    path: PathBands
    grid: GridBands
    dos: Dos
    scan: TwistScan | None

    def write(self, writer):
        writer.group("results", attrs={"system": self.system, "exciton_mass_m0": self.exciton_mass,
                                       "electron_layer": self.electron_layer, "hole_layer": self.hole_layer,
                                       "energy_zero": ENERGY_ZERO})
        self.geometry.write(writer, [self.electron_layer, self.hole_layer])
        self.potential.write(writer)
        writer.group("results/basis", attrs={"shells": self.shells, "n_g": len(self.g)})
        writer.write("results/basis/g", self.g, units="1/nm", attrs={"shape": "[n_g, xy]"})
        writer.write("results/basis/s", self.s, units="", attrs={"definition": "g = s1 g_0 + s2 g_1"})
        self._write_bands(writer)
        d = self.dos
        writer.group("results/dos", attrs={"sigma_meV": d.sigma, "n_bands": d.n_bands})
        writer.write("results/dos/energy", d.energy, units="meV")
        writer.write("results/dos/dos_per_cell", d.per_cell, units="1/meV",
                     attrs={"definition": "states per meV and moiré cell, of the n_bands bands kept"})
        writer.write("results/dos/dos_per_area", d.per_area, units="1/(meV nm^2)")
        if self.scan is not None:
            self.scan.write(writer)

    def _write_bands(self, writer):
        b, path, grid = "results/bands", self.path, self.grid
        writer.group(b)
        writer.write(f"{b}/path_Q", path.Q, units="1/nm")
        writer.write(f"{b}/path_x", path.x, units="1/nm", attrs={"definition": "arc length along the path"})
        writer.write(f"{b}/path_ticks", path.ticks, units="1/nm")
        writer.write(f"{b}/path_labels", path.labels, units="label")
        writer.write(f"{b}/path_energy", path.energy, units="meV", attrs={"shape": "[n_path, n_bands]",
                                                                            "energy_zero": ENERGY_ZERO})
        writer.write(f"{b}/path_velocity", path.velocity, units="nm/ps", attrs={"shape": "[n_path, n_bands, xy]"})
        n_q, n_bands = grid.energy.shape
        writer.write(f"{b}/grid_Q", grid.Q, units="1/nm", attrs={"grid": grid.n})
        writer.write(f"{b}/grid_fraction", grid.fraction, units="", attrs={
            "definition": "Q = f1 g_0 + f2 g_1 folded into the mBZ"})
        writer.write(f"{b}/grid_energy", grid.energy, units="meV", attrs={"shape": "[n_Q, n_bands]",
                                                                            "energy_zero": ENERGY_ZERO})
        writer.write_distributed(f"{b}/grid_velocity", grid.velocity, grid.offset, (n_q, n_bands, 2),
                                 units="nm/ps", attrs={"shape": "[n_Q, n_bands, xy]",
                                                       "definition": "Hellmann-Feynman (1/hbar) <dH/dQ>"})
        if grid.vectors is not None:
            writer.write_distributed(f"{b}/grid_vectors", grid.vectors, grid.offset, (n_q, n_bands, len(self.g)),
                                     units="", attrs={"shape": "[n_Q, n_bands, n_g]",
                                                      "definition": "omega_g(Q): |eta Q> = sum_g omega_g |Q+g>, "
                                                                    "g = results/basis/g; largest component real > 0"})
        writer.write(f"{b}/bandwidth", grid.bandwidth, units="meV",
                     attrs={"definition": "max E_0 - min E_0 on the grid"})
        writer.write(f"{b}/gap", grid.gap, units="meV", attrs={"definition": "min E_1 - max E_0 on the grid"})
        writer.write(f"{b}/direct_gap", grid.direct_gap, units="meV",
                     attrs={"definition": "min_Q (E_1 - E_0) on the grid"})

    @classmethod
    def read(cls, run):
        """From a finished ``moire`` run file (a :class:`hpcx.io.RunFile`)."""
        def r(name):
            return run.read(f"results/{name}")[0]

        f = run.file
        attrs = f["results"].attrs
        geometry = Geometry(float(r("geometry/theta_deg")), r("geometry/lattice_constants"),
                            float(r("geometry/period")), float(r("geometry/cell_area")),
                            r("geometry/lattice_vectors"), r("geometry/reciprocal_vectors"),
                            r("geometry/high_symmetry_points"), list(r("geometry/high_symmetry_labels")))
        pattrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f["results/potential"].attrs.items()}
        potential = Potential(float(r("potential/A")), float(r("potential/B")), pattrs, float(r("potential/depth")),
                              float(r("potential/harmonic_energy")), r("potential/x"), r("potential/y"),
                              r("potential/map"))
        path = PathBands(r("bands/path_Q"), r("bands/path_x"), r("bands/path_ticks"),
                         list(r("bands/path_labels")), r("bands/path_energy"), r("bands/path_velocity"))
        grid = GridBands(int(f["results/bands/grid_Q"].attrs["grid"]), r("bands/grid_Q"), r("bands/grid_fraction"),
                         r("bands/grid_energy"), r("bands/grid_velocity"),
                         r("bands/grid_vectors") if "results/bands/grid_vectors" in f else None, 0,
                         float(r("bands/bandwidth")), float(r("bands/gap")), float(r("bands/direct_gap")))
        dos_attrs = f["results/dos"].attrs
        dos = Dos(float(dos_attrs["sigma_meV"]), int(dos_attrs["n_bands"]), r("dos/energy"),
                  r("dos/dos_per_cell"), r("dos/dos_per_area"))
        scan = None
        if "results/twist_scan" in f:
            scan = TwistScan(int(f["results/twist_scan"].attrs["scan_grid"]),
                             *(r(f"twist_scan/{k}") for k in ("theta_deg", "bandwidth", "gap", "direct_gap",
                                                              "period", "harmonic_energy", "A_eff", "B_eff")))
        return cls(system=str(attrs["system"]), exciton_mass=float(attrs["exciton_mass_m0"]),
                   electron_layer=str(attrs["electron_layer"]), hole_layer=str(attrs["hole_layer"]),
                   geometry=geometry, potential=potential, shells=int(f["results/basis"].attrs["shells"]),
                   g=r("basis/g"), s=r("basis/s"), path=path, grid=grid, dos=dos, scan=scan)
