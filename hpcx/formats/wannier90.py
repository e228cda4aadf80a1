"""Wannier90 output -> :class:`~hpcx.bse.tbmodel.TBModel` (and back, for small models).

Reads the standard files of one seedname (Wannier90 user guide, "Files"):

- ``SEED_hr.dat``    H_mn(R) in eV with the Wigner-Seitz degeneracies ``ndegen(R)``
- ``SEED_wsvec.dat`` the shifts T of use_ws_distance: H_mn(R) acts between m in cell 0
  and n in cells R + T, each with weight 1/(ndegen * n_shifts)
- ``SEED.win``       unit_cell_cart, atoms_cart / atoms_frac, mp_grid, projections
- ``SEED.wout``      final Wannier centres (Angstrom)

Flattening the shifts gives an equivalent TBModel, H'(R') = sum over (R, T) with
R + T = R' of H(R) / (ndegen(R) n_shifts), so H(k) = sum_R' exp(i k.R') H'(R') is
exactly Wannier90's interpolation (plot.F90).  Any inconsistency between the files
raises :class:`~hpcx.errors.InputError` naming the file, line and what is wrong.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..bse.tbmodel import TBModel
from ..errors import InputError

BOHR_ANGSTROM = 0.529177210903

# Wannier90 real-harmonic names by (l, mr), user guide Table 3.1
_ORBITALS = {
    0: ("s",),
    1: ("pz", "px", "py"),
    2: ("dz2", "dxz", "dyz", "dx2-y2", "dxy"),
    3: ("fz3", "fxz2", "fyz2", "fz(x2-y2)", "fxyz", "fx(x2-3y2)", "fy(3x2-y2)"),
}
_ANGULAR = {"s": (0, None), "p": (1, None), "d": (2, None), "f": (3, None),
            "pz": (1, 1), "px": (1, 2), "py": (1, 3),
            "dz2": (2, 1), "dxz": (2, 2), "dyz": (2, 3), "dx2-y2": (2, 4), "dxy": (2, 5)}


@dataclass(frozen=True)
class WinData:
    """What the BSE needs from ``SEED.win``: lattice (3, 3) Angstrom rows, atoms, grid, orbitals."""

    lattice: np.ndarray
    species: tuple
    atoms: np.ndarray          # (n_atoms, 3) Angstrom, Cartesian
    mp_grid: tuple
    num_wann: int | None
    projections: tuple         # (species, orbital name) per Wannier function, or () if absent


def _lines(path):
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None


def _ints(path, lineno, text, count=None):
    try:
        values = [int(x) for x in text.split()]
    except ValueError:
        raise InputError(f"{path}: line {lineno}: expected integers, got {text.strip()!r}") from None
    if count is not None and len(values) != count:
        raise InputError(f"{path}: line {lineno}: expected {count} integers, got {len(values)}")
    return values


def _nonblank(f):
    """(line number, line) of the non-blank lines of an open file, 1-based."""
    for n, line in enumerate(f, start=1):
        if line.strip():
            yield n, line


def _hr_header(path):
    """(num_wann, nrpts, ndegen [nrpts], header line count) of ``SEED_hr.dat``; counts the
    matrix-element lines too, so a truncated or mis-sized file is reported before any parsing."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = [next(f, "") for _ in range(3)]
            if not head[2]:
                raise InputError(f"{path}: too short for a Wannier90 _hr.dat file "
                                 f"({sum(1 for x in head if x)} lines)")
            nw = _ints(path, 2, head[1], 1)[0]
            nr = _ints(path, 3, head[2], 1)[0]
            if nw < 1 or nr < 1:
                raise InputError(f"{path}: line 2-3: num_wann = {nw}, nrpts = {nr} must be positive")
            n_deg_lines = -(-nr // 15)
            head += [next(f, "") for _ in range(n_deg_lines)]
            n_body = sum(1 for line in f if line.strip())
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None
    deg = []
    for n in range(n_deg_lines):
        if not head[3 + n]:
            raise InputError(f"{path}: ends inside the degeneracy list (need {nr} values)")
        try:
            deg += [int(x) for x in head[3 + n].split()]
        except ValueError:
            raise InputError(f"{path}: line {4 + n}: expected {nr} integer degeneracy weights "
                             f"(15 per line), got {head[3 + n].strip()!r}") from None
    if len(deg) != nr:
        raise InputError(f"{path}: {len(deg)} degeneracy weights, expected nrpts = {nr}")
    deg = np.array(deg)
    if np.any(deg < 1):
        raise InputError(f"{path}: degeneracy weights must be >= 1")
    if n_body != nr * nw * nw:
        raise InputError(f"{path}: {n_body} matrix-element lines, expected nrpts * num_wann^2 = "
                         f"{nr} * {nw}^2 = {nr * nw * nw} (truncated or wrong num_wann?)")
    return nw, nr, deg, 3 + n_deg_lines


def iter_hr_blocks(path, header=None):
    """Yield (R (3,) int, H_mn(R) [nw, nw] complex eV) for each R block of ``SEED_hr.dat``, one
    block in memory at a time (NumPy's C parser, ~2e6 lines/s); header: _hr_header(path).
    InputError if a lattice vector R heads more than one block."""
    nw, nr, _, n_head = header or _hr_header(path)
    seen = set()
    with open(path, encoding="utf-8", errors="replace") as f:
        body = _nonblank(f)
        for _ in range(n_head):                               # header lines are non-blank
            next(body)
        for r in range(nr):
            R, H = _hr_block(path, list(itertools.islice(body, nw * nw)), r, nw)
            if tuple(R) in seen:
                raise InputError(f"{path}: a lattice vector R appears in more than one block")
            seen.add(tuple(R))
            yield R, H


def read_hr(path, header=None):
    """(num_wann, R [n_R, 3] int, ndegen [n_R], H [n_R, nw, nw] complex eV) of ``SEED_hr.dat``
    (streamed block by block: memory is the result plus one block)."""
    header = header or _hr_header(path)
    nw, nr, deg, _ = header
    R = np.zeros((nr, 3), int)
    H = np.zeros((nr, nw, nw), complex)
    for r, (R_r, H_r) in enumerate(iter_hr_blocks(path, header)):
        R[r], H[r] = R_r, H_r
    return nw, R, deg, H


def _hr_block(path, chunk, r, nw):
    """(R, H [nw, nw]) of one block of (line number, line) pairs; InputError naming the line."""
    try:
        table = np.loadtxt([line for _, line in chunk], ndmin=2)
        if table.shape[1] != 7:
            raise ValueError
    except ValueError:
        for n, line in chunk:                                  # find the offending line
            words = line.split()
            try:
                if len(words) != 7:
                    raise ValueError
                [float(x) for x in words]
            except ValueError:
                raise InputError(f"{path}: line {n}: expected 'R1 R2 R3 m n Re Im', got {line.strip()!r}") from None
        raise                                                  # pragma: no cover - loadtxt and float disagree
    bad = ~np.isfinite(table).all(axis=1)
    if bad.any():
        n, line = chunk[int(np.argmax(bad))]
        raise InputError(f"{path}: line {n}: non-finite number (NaN or inf) in {line.strip()!r}")
    Rb = table[:, :3]
    if np.any(Rb != Rb[:1]):
        raise InputError(f"{path}: R block {r + 1} ({tuple(Rb[0].astype(int))}) is incomplete: its {nw}^2 lines "
                         "do not share one lattice vector")
    m = table[:, 3].astype(int) - 1
    n = table[:, 4].astype(int) - 1
    if m.min() < 0 or n.min() < 0 or m.max() >= nw or n.max() >= nw:
        raise InputError(f"{path}: orbital index outside 1..num_wann = {nw}")
    filled = np.zeros((nw, nw), int)
    np.add.at(filled, (m, n), 1)
    if np.any(filled != 1):
        raise InputError(f"{path}: some (R, m, n) elements are missing or repeated")
    H = np.zeros((nw, nw), complex)
    H[m, n] = table[:, 5] + 1j * table[:, 6]
    return Rb[0].astype(int), H


def read_wsvec(path, num_wann=None):
    """{(R tuple, m, n) (0-based): shifts T [n_T, 3] int} of ``SEED_wsvec.dat``."""
    lines = _lines(path)
    out = {}
    i = 1 if lines and not lines[0].split()[0].lstrip("-").isdigit() else 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        head = _ints(path, i + 1, lines[i], 5)
        if i + 1 >= len(lines):
            raise InputError(f"{path}: line {i + 1}: entry without a shift count")
        count = _ints(path, i + 2, lines[i + 1], 1)[0]
        if count < 1:
            raise InputError(f"{path}: line {i + 2}: shift count must be >= 1, got {count}")
        if i + 2 + count > len(lines):
            raise InputError(f"{path}: line {i + 2}: {count} shifts announced, file ends first")
        shifts = np.array([_ints(path, i + 3 + s, lines[i + 2 + s], 3) for s in range(count)])
        m, n = head[3] - 1, head[4] - 1
        if num_wann is not None and not (0 <= m < num_wann and 0 <= n < num_wann):
            raise InputError(f"{path}: line {i + 1}: orbital index outside 1..num_wann = {num_wann}")
        out[(tuple(head[:3]), m, n)] = shifts
        i += 2 + count
    if not out:
        raise InputError(f"{path}: no entries")
    return out


def _strip(line):
    return re.split(r"[!#]", line, maxsplit=1)[0].strip()


def _block(path, lines, name):
    """Content lines of ``begin NAME ... end NAME`` (case-insensitive) or None."""
    start = None
    for i, raw in enumerate(lines):
        words = _strip(raw).lower().replace(":", " ").split()
        if words[:2] == ["begin", name]:
            start = i
        elif words[:2] == ["end", name] and start is not None:
            return [(j + 1, _strip(lines[j])) for j in range(start + 1, i) if _strip(lines[j])]
    if start is not None:
        raise InputError(f"{path}: block '{name}' opened on line {start + 1} is never closed")
    return None


def _keyword(lines, name):
    for i, raw in enumerate(lines):
        text = _strip(raw)
        m = re.match(rf"^{name}\s*[=:\s]\s*(.*)$", text, flags=re.IGNORECASE)
        if m:
            return i + 1, m.group(1).strip()
    return None, None


def _units_factor(path, content, block):
    """Strip an optional 'ang'/'bohr' first line; returns (factor, lines)."""
    if content and content[0][1].lower() in ("ang", "angstrom", "bohr"):
        return (BOHR_ANGSTROM if content[0][1].lower() == "bohr" else 1.0), content[1:]
    return 1.0, content


def _floats(path, lineno, words, count):
    try:
        values = [float(x.replace("d", "e").replace("D", "e")) for x in words]
    except ValueError:
        raise InputError(f"{path}: line {lineno}: expected numbers, got {' '.join(words)!r}") from None
    if len(values) != count:
        raise InputError(f"{path}: line {lineno}: expected {count} numbers, got {len(values)}")
    if not all(np.isfinite(values)):
        raise InputError(f"{path}: line {lineno}: non-finite number (NaN or inf) in {' '.join(words)!r}")
    return values


def read_win(path):
    """Lattice, atoms, mp_grid, num_wann and projections of ``SEED.win``."""
    lines = _lines(path)
    cell = _block(path, lines, "unit_cell_cart")
    if cell is None:
        raise InputError(f"{path}: no 'begin unit_cell_cart' block (only Cartesian cells are supported)")
    factor, cell = _units_factor(path, cell, "unit_cell_cart")
    if len(cell) != 3:
        raise InputError(f"{path}: unit_cell_cart must have 3 lattice vectors, got {len(cell)}")
    lattice = factor * np.array([_floats(path, n, t.split(), 3) for n, t in cell])
    if abs(np.linalg.det(lattice)) < 1e-8:
        raise InputError(f"{path}: unit_cell_cart is singular")
    species, pos = [], []
    cart = _block(path, lines, "atoms_cart")
    frac = _block(path, lines, "atoms_frac")
    if cart is None and frac is None:
        raise InputError(f"{path}: no atoms_cart or atoms_frac block")
    if cart is not None:
        factor, cart = _units_factor(path, cart, "atoms_cart")
        for n, t in cart:
            w = t.split()
            species.append(w[0])
            pos.append(factor * np.array(_floats(path, n, w[1:], 3)))
    else:
        for n, t in frac:
            w = t.split()
            species.append(w[0])
            pos.append(np.array(_floats(path, n, w[1:], 3)) @ lattice)
    lineno, grid = _keyword(lines, "mp_grid")
    if grid is None:
        raise InputError(f"{path}: no mp_grid keyword")
    mp = tuple(_ints(path, lineno, grid, 3))
    if min(mp) < 1:
        raise InputError(f"{path}: line {lineno}: mp_grid must be positive, got {mp}")
    lineno, nw = _keyword(lines, "num_wann")
    num_wann = _ints(path, lineno, nw, 1)[0] if nw is not None else None
    proj = _projections(path, _block(path, lines, "projections"), species)
    return WinData(lattice, tuple(species), np.array(pos), mp, num_wann, proj)


def _projections(path, content, species):
    """(species, orbital) per Wannier function, in Wannier90's order (block lines, atoms, m)."""
    if not content:
        return ()
    out = []
    for lineno, text in content:
        if ":" not in text:
            raise InputError(f"{path}: line {lineno}: projection without ':' ({text!r})")
        site, spec = (s.strip() for s in text.split(":", 1))
        if site.lower() == "random":
            return ()
        orbitals = []
        for part in spec.split(";"):
            part = part.strip()
            m = re.match(r"l\s*=\s*(\d)\s*(?:,\s*mr\s*=\s*([\d,\s]+))?$", part)
            if m:
                l = int(m.group(1))
                mrs = [int(x) for x in m.group(2).split(",")] if m.group(2) else range(1, 2 * l + 2)
                if l not in _ORBITALS or any(not 1 <= r <= 2 * l + 1 for r in mrs):
                    raise InputError(f"{path}: line {lineno}: unsupported projection {part!r}")
                orbitals += [_ORBITALS[l][r - 1] for r in mrs]
                continue
            for name in part.split(","):
                name = name.strip().lower()
                if name not in _ANGULAR:
                    raise InputError(f"{path}: line {lineno}: unsupported projection {name!r}")
                l, mr = _ANGULAR[name]
                orbitals += list(_ORBITALS[l]) if mr is None else [_ORBITALS[l][mr - 1]]
        atoms = [s for s in species if s.lower() == site.lower()]
        if not atoms:
            return ()          # site given by coordinates: leave the order to the .wout centres
        for _ in atoms:
            out += [(site, o) for o in orbitals]
    return tuple(out)


def read_wout_centres(path):
    """(n_wann, 3) Angstrom: the centres of the last 'Final State' block of ``SEED.wout``."""
    lines = _lines(path)
    starts = [i for i, ln in enumerate(lines) if "Final State" in ln]
    if not starts:
        raise InputError(f"{path}: no 'Final State' block (did the Wannier90 run finish?)")
    centres = []
    for i in range(starts[-1] + 1, len(lines)):
        m = re.match(r"\s*WF centre and spread\s+(\d+)\s+\(\s*([^)]*)\)", lines[i])
        if not m:
            break
        if int(m.group(1)) != len(centres) + 1:
            raise InputError(f"{path}: line {i + 1}: Wannier centres out of order")
        centres.append(_floats(path, i + 1, m.group(2).replace(",", " ").split(), 3))
    if not centres:
        raise InputError(f"{path}: 'Final State' block has no 'WF centre and spread' lines")
    return np.array(centres)


def _nearest_atoms(centres, atoms, lattice):
    """Index of the atom (any periodic image in-plane) nearest to each centre, and that image."""
    images = np.array([(i, j, 0) for i in (-1, 0, 1) for j in (-1, 0, 1)]) @ lattice
    out, where = [], []
    for c in centres:
        d = c[None, None, :] - (atoms[:, None, :] + images[None, :, :])
        dist = np.linalg.norm(d, axis=-1)
        a, im = np.unravel_index(np.argmin(dist), dist.shape)
        out.append(a)
        where.append(atoms[a] + images[im])
    return np.array(out), np.array(where)


def flatten_ws(R, deg, H, wsvec=None, path="wsvec"):
    """(R', H') with the degeneracy weights and WS shifts folded into the hoppings."""
    nw = H.shape[1]
    if wsvec is None:                 # no shifts: only the degeneracy weights (vectorised, large cells)
        return np.asarray(R, int), H / np.asarray(deg, float)[:, None, None]
    acc = {}
    for r, d, h in zip(R, deg, H):
        for m in range(nw):
            for n in range(nw):
                if wsvec is None:
                    shifts = np.zeros((1, 3), int)
                else:
                    shifts = wsvec.get((tuple(r), m, n))
                    if shifts is None:
                        raise InputError(f"{path}: no entry for R = {tuple(r)}, m = {m + 1}, n = {n + 1} "
                                         "(wsvec and hr files do not belong together)")
                w = h[m, n] / (d * len(shifts))
                for t in shifts:
                    key = tuple(r + t)
                    if key not in acc:
                        acc[key] = np.zeros((nw, nw), complex)
                    acc[key][m, n] += w
    keys = sorted(acc)
    return np.array(keys, int), np.array([acc[k] for k in keys])


@dataclass(frozen=True)
class WsvecTable:
    """``SEED_wsvec.dat`` as arrays: keys (n_entries, 5) int (R1, R2, R3, m, n; m, n 0-based),
    counts (n_entries,) shifts per entry, shifts (counts.sum(), 3) int in entry order."""

    keys: np.ndarray
    counts: np.ndarray
    shifts: np.ndarray

    def __len__(self):
        return len(self.keys)


def read_wsvec_table(path, num_wann=None):
    """WsvecTable of ``SEED_wsvec.dat`` (the fast path of large supercells: the integers are parsed
    in C, then one pass over the entries finds their boundaries).  Any malformed input is handed to
    read_wsvec, whose InputError names the line."""
    import warnings
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None
    first, _, body = text.partition("\n")
    if first.split() and first.split()[0].lstrip("-").isdigit():
        body = text                                            # no header line
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            flat = np.fromstring(body, dtype=np.int64, sep=" ")
        keys, counts, starts = _walk_wsvec(flat)
    except (ValueError, DeprecationWarning, IndexError):
        read_wsvec(path, num_wann)                             # raises with the line
        raise InputError(f"{path}: not a Wannier90 wsvec file") from None
    if not len(keys):
        raise InputError(f"{path}: no entries")
    keys[:, 3:] -= 1
    if num_wann is not None and (keys[:, 3:].min() < 0 or keys[:, 3:].max() >= num_wann):
        read_wsvec(path, num_wann)
        raise InputError(f"{path}: orbital index outside 1..num_wann = {num_wann}")
    idx = np.repeat(starts, 3 * counts) + _ramp(3 * counts)
    return WsvecTable(keys, counts, flat[idx].reshape(-1, 3))


def _ramp(lengths):
    """0, 1, ..., l0 - 1, 0, 1, ..., l1 - 1, ... for the given lengths."""
    total = int(lengths.sum())
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.arange(total) - offsets


def _walk_wsvec(flat):
    """Entry boundaries of the flat integers of a wsvec body: each entry is R1 R2 R3 m n, count,
    then count triples.  Returns (keys (n, 5), counts (n,), start of each entry's shifts)."""
    pos, n = 0, len(flat)
    heads, counts = [], []
    while pos < n:
        c = int(flat[pos + 5])
        if c < 1 or pos + 6 + 3 * c > n:
            raise ValueError("bad shift count")
        heads.append(pos)
        counts.append(c)
        pos += 6 + 3 * c
    heads = np.array(heads, dtype=np.int64)
    keys = flat[heads[:, None] + np.arange(5)].copy()
    return keys, np.array(counts, dtype=np.int64), heads + 6


def _wsvec_slots(R, table, nw, path):
    """(index into R of each wsvec entry, its slot (r nw + m) nw + n); InputError unless the entries
    cover every (R, m, n) of the hr file exactly once."""
    r_of = _lookup_rows(np.asarray(R, dtype=np.int64), table.keys[:, :3], path)
    slot = (r_of * nw + table.keys[:, 3]) * nw + table.keys[:, 4]
    if len(table) != len(R) * nw * nw or len(np.unique(slot)) != len(slot):
        raise InputError(f"{path}: {len(table)} entries do not cover every (R, m, n) of the hr file once "
                         f"(nrpts * num_wann^2 = {len(R) * nw * nw}; wsvec and hr files do not belong together)")
    return r_of, slot


def flatten_ws_table(R, deg, H, table, path="wsvec"):
    """Vectorised :func:`flatten_ws` for a WsvecTable: H'(R + T) += H(R) / (ndegen n_shifts)
    for every shift T of every (R, m, n).  Returns (R' [n_R', 3], H' [n_R', nw, nw])."""
    R = np.asarray(R, dtype=np.int64)
    nw = H.shape[1]
    r_of, _ = _wsvec_slots(R, table, nw, path)
    m, n = table.keys[:, 3], table.keys[:, 4]
    value = H[r_of, m, n] / (np.asarray(deg)[r_of] * table.counts)
    e = np.repeat(np.arange(len(table)), table.counts)
    keys, inverse = np.unique(R[r_of][e] + table.shifts, axis=0, return_inverse=True)
    out = np.zeros((len(keys), nw, nw), complex)
    np.add.at(out, (inverse.ravel(), m[e], n[e]), value[e])
    return keys, out


def _row_keys(rows):
    """One sortable int64 per row of small integer triples (|x| < 2^20)."""
    r = np.asarray(rows, dtype=np.int64) + (1 << 20)
    return (r[:, 0] << 42) | (r[:, 1] << 21) | r[:, 2]


def _lookup_rows(R, rows, path):
    """Index into R of each row of ``rows``; InputError if one is not in R."""
    keys = _row_keys(R)
    order = np.argsort(keys)
    q = _row_keys(rows)
    pos = np.minimum(np.searchsorted(keys[order], q), len(keys) - 1)
    bad = keys[order][pos] != q
    if np.any(bad):
        raise InputError(f"{path}: R = {tuple(rows[np.argmax(bad)])} is not a lattice vector of the hr file "
                         "(wsvec and hr files do not belong together)")
    return order[pos]


@dataclass(frozen=True)
class Wannier90Meta:
    """Everything of a Wannier90 run but the hoppings: the hr header (nw, nrpts, ndegen, header
    lines; line count checked), lattice (3, 3) and orbital positions (nw, 3) Angstrom, labels, and
    info = {mp_grid, species, atom_of_orbital, wannier_centres}."""

    header: tuple
    lattice: np.ndarray
    positions: np.ndarray
    labels: tuple
    info: dict

    @property
    def num_wann(self):
        return self.header[0]


def read_wannier90_meta(directory, seedname, centres="atoms"):
    """Wannier90Meta of the run in ``directory`` (reads the .win, the .wout and counts the hr lines;
    no hopping is parsed), checked for consistency.  centres: as in load_wannier90."""
    d = Path(directory)
    header = _hr_header(d / f"{seedname}_hr.dat")
    nw, _, deg, _ = header
    win = read_win(d / f"{seedname}.win")
    if win.num_wann is not None and win.num_wann != nw:
        raise InputError(f"{d / (seedname + '_hr.dat')}: num_wann = {nw} but {seedname}.win says "
                         f"num_wann = {win.num_wann}")
    if win.projections and len(win.projections) != nw:
        raise InputError(f"{d / (seedname + '.win')}: projections give {len(win.projections)} orbitals, "
                         f"num_wann = {nw}")
    n_k = int(np.prod(win.mp_grid))
    weight = float(np.sum(1.0 / deg))
    if abs(weight - n_k) > 1e-6 * n_k:
        raise InputError(f"{d / (seedname + '_hr.dat')}: sum of 1/ndegen = {weight:.6g} differs from the "
                         f"{n_k} k-points of mp_grid {win.mp_grid} in {seedname}.win")
    wc = read_wout_centres(d / f"{seedname}.wout")
    if len(wc) != nw:
        raise InputError(f"{d / (seedname + '.wout')}: {len(wc)} final Wannier centres, num_wann = {nw}")
    atom, site_pos = _nearest_atoms(wc, win.atoms, win.lattice)
    if centres == "atoms":
        positions = site_pos
    elif centres == "wannier":
        positions = wc
    else:
        raise ValueError(f"centres must be 'atoms' or 'wannier', got {centres!r}")
    if win.projections:
        labels = tuple(f"{win.species[a]}{a + 1}:{orb}" for a, (_, orb) in zip(atom, win.projections))
    else:
        labels = tuple(f"{win.species[a]}{a + 1}:wf{i + 1}" for i, a in enumerate(atom))
    info = dict(mp_grid=win.mp_grid, species=win.species, atom_of_orbital=atom, wannier_centres=wc)
    return Wannier90Meta(header, np.asarray(win.lattice, float), np.asarray(positions, float), labels, info)


def _wsvec(d, seedname, nw, nr):
    ws_path = d / f"{seedname}_wsvec.dat"
    table = read_wsvec_table(ws_path, nw)
    if len(table) != nr * nw * nw:
        raise InputError(f"{ws_path}: {len(table)} entries, the hr file needs nrpts * num_wann^2 = "
                         f"{nr * nw * nw}")
    return table, ws_path


def load_wannier90(directory, seedname, centres="atoms", use_ws_distance=True):
    """TBModel of a Wannier90 run in ``directory`` with files ``seedname*``.

    centres: "atoms" puts each Wannier function on the atom nearest to its final
    centre (seed 004 / PyMEX "atom_centered"; orbitals of one atom share a site),
    "wannier" uses the final centres of the .wout file.
    Returns (model, info) with info = {mp_grid, species, atom_of_orbital, wannier_centres}.
    """
    d = Path(directory)
    meta = read_wannier90_meta(d, seedname, centres)
    nw, R, deg, H = read_hr(d / f"{seedname}_hr.dat", meta.header)
    if use_ws_distance:
        table, ws_path = _wsvec(d, seedname, nw, len(R))
        Rf, Hf = flatten_ws_table(R, deg, H, table, path=str(ws_path))
    else:
        Rf, Hf = flatten_ws(R, deg, H, None)
    return TBModel(meta.lattice, meta.positions, Rf, Hf, meta.labels), meta.info


def load_wannier90_sparse(directory, seedname, centres="atoms", use_ws_distance=True, cutoff=0.0, meta=None):
    """SparseTBModel of a Wannier90 run (large supercells): the hr file is streamed block by block
    and only elements with |H_mn(R)| / ndegen(R) > ``cutoff`` (eV) are kept, so memory is O(kept
    hoppings) plus one block and the wsvec table.  The cutoff acts on the file's elements before
    the WS shifts split them (H_nm(-R) = conj H_mn(R) and ndegen(-R) = ndegen(R): Hermitian).
    With cutoff = 0 it is load_wannier90's model (tested).  ``meta``: read_wannier90_meta's result
    when the caller has it already.  Returns (model, info) as load_wannier90.
    """
    from ..bse.supercell import SparseTBModel
    d = Path(directory)
    hr = d / f"{seedname}_hr.dat"
    meta = meta or read_wannier90_meta(d, seedname, centres)
    nw, nr, deg, _ = meta.header
    R = np.zeros((nr, 3), np.int64)
    parts = []
    for r, (R_r, block) in enumerate(iter_hr_blocks(hr, meta.header)):
        R[r] = R_r
        h = block / deg[r]
        m, n = np.nonzero(np.abs(h) > cutoff)
        parts.append((np.full(len(m), r), m, n, h[m, n]))
    r_k, m_k, n_k, v_k = (np.concatenate(x) for x in zip(*parts))
    if use_ws_distance:
        table, ws_path = _wsvec(d, seedname, nw, nr)
        _, slot_t = _wsvec_slots(R, table, nw, str(ws_path))
        order = np.argsort(slot_t)
        entry = order[np.searchsorted(slot_t[order], (r_k * nw + m_k) * nw + n_k)]
        counts = table.counts[entry]
        first = (np.cumsum(table.counts) - table.counts)[entry]
        e = np.repeat(np.arange(len(entry)), counts)
        T = table.shifts[np.repeat(first, counts) + _ramp(counts)]
        rows, cols, Rp, value = m_k[e], n_k[e], R[r_k[e]] + T, v_k[e] / counts[e]
    else:
        rows, cols, Rp, value = m_k, n_k, R[r_k], v_k
    model = SparseTBModel(meta.lattice, meta.positions, rows, cols, Rp, value.astype(complex), meta.labels)
    return model, meta.info


def write_wannier90(model, directory, seedname, species=None, atom_of_orbital=None):
    """Write a TBModel as Wannier90 files (SEED_hr.dat, SEED.win, SEED.wout) that load_wannier90
    reads back as the same model (use_ws_distance = false; the hoppings carry no WS shifts).

    Lets a hpcx supercell (e.g. a modulated twisted cell) be handed to other Wannier-basis codes,
    and tests the Wannier90 input path of ``bse_moire``.  ``atom_of_orbital`` (n_orb,) groups the
    orbitals into atoms (default: equal positions share an atom), ``species`` (n_atoms,) names
    them (default "X").  The file has one R block per lattice vector of the model with ndegen =
    n_R and hoppings multiplied by n_R, and mp_grid = 1 1 1, so that Wannier90's sum rule
    sum 1/ndegen = n_k holds; H(k) is unchanged.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    nw = model.n_orb
    if atom_of_orbital is None:
        _, atom_of_orbital = np.unique(np.round(model.positions, 8), axis=0, return_inverse=True)
    atom_of_orbital = np.asarray(atom_of_orbital).ravel()
    n_atoms = int(atom_of_orbital.max()) + 1
    atoms = np.array([model.positions[np.flatnonzero(atom_of_orbital == a)[0]] for a in range(n_atoms)])
    species = list(species) if species is not None else ["X"] * n_atoms
    nr = len(model.R)
    with open(d / f"{seedname}_hr.dat", "w") as f:
        f.write(f"written by hpcx (write_wannier90)\n{nw:12d}\n{nr:12d}\n")
        for i in range(0, nr, 15):
            f.write("".join(f"{nr:5d}" for _ in range(min(15, nr - i))) + "\n")
        m, n = np.meshgrid(np.arange(nw), np.arange(nw), indexing="ij")     # Wannier90: m fastest
        m, n = m.T.ravel(), n.T.ravel()
        for R, H in zip(model.R, model.H_Rij):
            h = nr * H[m, n]
            block = np.column_stack([np.tile(R, (nw * nw, 1)), m + 1, n + 1, h.real, h.imag])
            np.savetxt(f, block, fmt="%5d%5d%5d%5d%5d %21.14e %21.14e")
    with open(d / f"{seedname}.win", "w") as f:
        f.write(f"num_wann = {nw}\nmp_grid = 1 1 1\n\nbegin unit_cell_cart\nang\n")
        f.writelines(f"{x:20.12f}{y:20.12f}{z:20.12f}\n" for x, y, z in model.lattice)
        f.write("end unit_cell_cart\n\nbegin atoms_cart\nang\n")
        f.writelines(f"{s:4s}{x:20.12f}{y:20.12f}{z:20.12f}\n" for s, (x, y, z) in zip(species, atoms))
        f.write("end atoms_cart\n")
    with open(d / f"{seedname}.wout", "w") as f:
        f.write(" Final State\n")
        f.writelines(f"  WF centre and spread {i + 1:5d}  ( {x:12.6f}, {y:12.6f}, {z:12.6f} )   1.0\n"
                     for i, (x, y, z) in enumerate(model.positions))


def required_files(seedname, use_ws_distance=True):
    """Names of the files :func:`load_wannier90` reads for ``seedname`` (the wsvec file only with
    ``use_ws_distance``)."""
    wsvec = (f"{seedname}_wsvec.dat",) if use_ws_distance else ()
    return (f"{seedname}_hr.dat", f"{seedname}.win", f"{seedname}.wout") + wsvec


def directory_problem(directory, seedname, use_ws_distance=True):
    """None when ``directory`` holds every file of ``seedname`` that :func:`load_wannier90` reads,
    else (what is wrong: 'directory' or 'seedname', a message naming the path and the files)."""
    d = Path(directory)
    if not d.is_dir():
        return "directory", f"{d}: no such directory"
    missing = [f for f in required_files(seedname, use_ws_distance) if not (d / f).is_file()]
    if not missing:
        return None
    hint = "; or set use_ws_distance = false" if f"{seedname}_wsvec.dat" in missing else ""
    return "seedname", f"{d} has no {', '.join(missing)} (seedname {seedname!r}{hint})"
