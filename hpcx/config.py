"""TOML config files -> validated, typed, immutable config objects.

Each workflow declares its schema as :class:`Section` objects made of
:class:`Field` objects (type, default, unit, allowed range or choices, doc).
:func:`load_config` checks everything it can before any computation: TOML
syntax, unknown sections and keys (with a "did you mean"), types, ranges and
choices.  Errors are :class:`~hpcx.errors.ConfigError` naming file and key.
The reference docs/config.md is generated from the schemas
(:func:`render_markdown`) and a test keeps the two in step.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
from pathlib import Path
from typing import Any

from .errors import ConfigError

REQUIRED = object()

_TYPE_NAMES = {float: "number", int: "integer", str: "string", bool: "boolean"}


@dataclasses.dataclass(frozen=True)
class Field:
    """One config key.

    ``kind`` is float, int, str or bool; ``list_of`` makes it a list of that
    kind (or of a :class:`Section`, i.e. an array of tables).  ``minimum`` /
    ``maximum`` bound numbers (``exclusive`` makes the minimum strict),
    ``choices`` restricts strings, ``min_items`` bounds list lengths.
    """

    name: str
    kind: Any
    default: Any = REQUIRED
    doc: str = ""
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    exclusive: bool = False
    choices: tuple | None = None
    list_of: bool = False
    min_items: int = 0

    @property
    def required(self):
        return self.default is REQUIRED


@dataclasses.dataclass(frozen=True)
class Section:
    """A TOML table: ``[name]`` with its fields."""

    name: str
    fields: tuple
    doc: str = ""
    required: bool = False

    def field(self, name):
        return {f.name: f for f in self.fields}[name]


@dataclasses.dataclass(frozen=True)
class Schema:
    """All sections of one workflow's config (the ``[run]`` section is shared)."""

    workflow: str
    sections: tuple
    doc: str = ""

    def section(self, name):
        return {s.name: s for s in self.sections}[name]


RUN_SECTION = Section("run", (
    Field("workflow", str, doc="which workflow to run (see the table in the README)"),
    Field("log_level", str, "INFO", "verbosity of rank 0's log",
          choices=("DEBUG", "INFO", "WARNING", "ERROR")),
    Field("title", str, "", "free text stored with the output"),
    Field("memory_limit", float, 0.0, "memory per rank the run may use, replacing the detected limit "
          "(0: the smallest of MemAvailable, the cgroup limit, SLURM_MEM_PER_NODE/SLURM_MEM_PER_CPU and "
          "ulimit -v, shared by the ranks of a node; see docs/reliability.md)", unit="GiB", minimum=0.0),
    Field("allow_oversubscribe_memory", bool, False, "run even when the memory estimate exceeds 90 % of "
          "the limit (a warning instead of the refusal)"),
), doc="What to run, and how much memory it may use.", required=True)


def _suggest(word, candidates):
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _describe_allowed(field):
    parts = [_TYPE_NAMES.get(field.kind, "table")]
    if field.choices:
        parts = ["one of " + ", ".join(repr(c) for c in field.choices)]
    if field.minimum is not None:
        parts.append(("> " if field.exclusive else ">= ") + f"{field.minimum:g}")
    if field.maximum is not None:
        parts.append(f"<= {field.maximum:g}")
    return " ".join(parts)


def _check_scalar(value, field, source, key):
    kind = field.kind
    ok = (isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))) or (
        kind is float and isinstance(value, int) and not isinstance(value, bool))
    if not ok:
        raise ConfigError(source, key, f"expected {_TYPE_NAMES[kind]}, got "
                          f"{type(value).__name__} {value!r}")
    if kind is float:
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(source, key, f"must be finite, got {value!r}")
    if field.choices is not None and value not in field.choices:
        raise ConfigError(source, key, f"{value!r} is not allowed; allowed: "
                          + ", ".join(repr(c) for c in field.choices) + _suggest(str(value), map(str, field.choices)))
    if kind in (int, float):
        too_low = field.minimum is not None and (
            value <= field.minimum if field.exclusive else value < field.minimum)
        too_high = field.maximum is not None and value > field.maximum
        if too_low or too_high:
            unit = f" {field.unit}" if field.unit else ""
            raise ConfigError(source, key, f"{value!r}{unit} is out of range; allowed: {_describe_allowed(field)}")
    return value


def _check_value(value, field, source, key):
    if not field.list_of:
        if isinstance(field.kind, Section):
            return _build_section(value, field.kind, source, key)
        return _check_scalar(value, field, source, key)
    if not isinstance(value, list):
        raise ConfigError(source, key, f"expected a list, got {type(value).__name__} {value!r}")
    if len(value) < field.min_items:
        raise ConfigError(source, key, f"needs at least {field.min_items} item(s)")
    items = []
    for i, item in enumerate(value):
        items.append(_check_value(item, dataclasses.replace(field, list_of=False), source, f"{key}[{i}]"))
    return tuple(items)


def _section_class(section):
    return dataclasses.make_dataclass(
        f"{section.name.title().replace('_', '')}Config",
        [(f.name, object) for f in section.fields], frozen=True)


def _build_section(table, section, source, prefix):
    if not isinstance(table, dict):
        raise ConfigError(source, prefix, f"expected a table, got {type(table).__name__}")
    known = {f.name: f for f in section.fields}
    for key in table:
        if key not in known:
            raise ConfigError(source, f"{prefix}.{key}",
                              f"unknown key{_suggest(key, known)}; allowed: {', '.join(known)}")
    values = {}
    for name, field in known.items():
        key = f"{prefix}.{name}"
        if name in table:
            values[name] = _check_value(table[name], field, source, key)
        elif field.required:
            raise ConfigError(source, key, f"missing required key ({field.doc})")
        else:
            values[name] = field.default
    return _section_class(section)(**values)


@dataclasses.dataclass(frozen=True)
class Config:
    """A validated config: ``cfg.<section>.<key>``; ``text`` is the file as given.

    ``base_dir`` is the directory relative paths in the config are resolved
    against: the config file's directory (the working directory for a config
    given as data).
    """

    source: str
    text: str
    workflow: str
    sections: dict
    base_dir: str = "."

    def path(self, value):
        """``value`` (a path string from this config) as a Path, relative ones against ``base_dir``.

        This is the one rule for every key that names a file or directory:
        a relative path means relative to the config file's directory, never
        to the working directory of the run.  ``~`` is expanded.
        """
        path = Path(value).expanduser()
        return path if path.is_absolute() else Path(self.base_dir) / path

    def __getattr__(self, name):
        try:
            return self.sections[name]
        except KeyError:
            raise AttributeError(name) from None


def toml_value(value):
    """One value as TOML text (numbers, booleans, strings, lists, inline tables)."""
    if isinstance(value, bool) or (hasattr(value, "dtype") and value.dtype.kind == "b"):
        return "true" if value else "false"
    if isinstance(value, int) or (hasattr(value, "dtype") and value.dtype.kind in "iu"):
        return str(int(value))
    if isinstance(value, float) or (hasattr(value, "dtype") and value.dtype.kind == "f"):
        value = float(value)
        if math.isfinite(value):
            return repr(value)
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (str, Path)):
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
        items = value.tolist() if hasattr(value, "tolist") else value
        return "[" + ", ".join(toml_value(v) for v in items) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def dump_toml(data, header=""):
    """TOML text of ``{section: {key: value}}`` (one level of tables, as hpcx configs are).

    Lists of tables (``[[section.key]]`` arrays) are written inline.  ``header``
    lines become comments at the top.  ``parse_toml(dump_toml(d))`` equals ``d``.
    """
    lines = [f"# {line}" for line in header.splitlines()]
    for name, table in data.items():
        if not isinstance(table, dict):
            raise TypeError(f"top-level TOML entry {name!r} must be a table")
        lines.append(f"[{name}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in table.items()]
        lines.append("")
    return "\n".join(lines)


def parse_toml(text, source):
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "", f"not valid TOML: {exc}") from None


def read_config_text(path):
    """The text of config file ``path`` (UTF-8; a byte-order mark is accepted and dropped)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(path, "", "no such file") from None
    except IsADirectoryError:
        raise ConfigError(path, "", "is a directory, not a TOML config file") from None
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {exc.strerror or exc}") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError(path, "", "is UTF-16 text; save it as UTF-8 (TOML files are UTF-8)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError(path, "", f"line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); "
                                    f"TOML files are UTF-8") from None
    return strip_bom(text)


def strip_bom(text):
    """``text`` without a leading UTF-8 byte-order mark (some Windows editors write one)."""
    return text[1:] if text.startswith("\ufeff") else text


def validate(text, source, schemas, base_dir=None):
    """Validate config ``text`` against ``schemas`` ({workflow: Schema}).

    Returns a :class:`Config`; raises ConfigError naming ``source`` and the key.
    ``base_dir`` defaults to the directory of ``source``.
    """
    text = strip_bom(text)
    data = parse_toml(text, source)
    run_table = data.get("run")
    if not isinstance(run_table, dict) or "workflow" not in run_table:
        raise ConfigError(source, "run.workflow", "missing: every config needs [run] workflow = \"...\" "
                          f"(one of {', '.join(schemas)})")
    workflow = run_table["workflow"]
    if not isinstance(workflow, str) or workflow not in schemas:
        raise ConfigError(source, "run.workflow", f"unknown workflow {workflow!r}"
                          f"{_suggest(str(workflow), schemas)}; allowed: {', '.join(schemas)}")
    schema = schemas[workflow]
    sections = {"run": RUN_SECTION, **{s.name: s for s in schema.sections}}
    for name in data:
        if name not in sections:
            raise ConfigError(source, name, f"unknown section{_suggest(name, sections)}; "
                              f"allowed for workflow '{workflow}': {', '.join(sections)}")
    built = {}
    for name, section in sections.items():
        if name not in data and section.required:
            raise ConfigError(source, name, f"missing required section [{name}]")
        built[name] = _build_section(data.get(name, {}), section, source, name)
    if base_dir is None:
        base_dir = Path(str(source)).parent
    base_dir = Path(base_dir).expanduser().absolute()
    return Config(source=str(source), text=text, workflow=workflow, sections=built, base_dir=str(base_dir))


def load_config(path, schemas):
    return validate(read_config_text(path), path, schemas)


# -- reference documentation ------------------------------------------------

def _default_text(field):
    if field.required:
        return "required"
    if isinstance(field.kind, Section):
        return "[]" if field.list_of else "{}"
    return f"`{field.default!r}`" if not isinstance(field.default, str) else f'`"{field.default}"`'


def _section_markdown(section, heading, lines):
    lines.append(f"{heading} `[{section.name}]`" + (" (required)" if section.required else ""))
    lines.append("")
    if section.doc:
        lines += [section.doc, ""]
    lines.append("| key | type | default | unit | allowed | meaning |")
    lines.append("| --- | --- | --- | --- | --- | --- |")
    nested = []
    for f in section.fields:
        if isinstance(f.kind, Section):
            kind = "array of tables" if f.list_of else "table"
            nested.append(f.kind)
            allowed = f"see `[[{section.name}.{f.name}]]`"
        else:
            kind = ("list of " if f.list_of else "") + _TYPE_NAMES[f.kind]
            allowed = _describe_allowed(f) if (f.choices or f.minimum is not None or f.maximum is not None) else ""
        lines.append(f"| `{f.name}` | {kind} | {_default_text(f)} | {f.unit} | {allowed} | {f.doc} |")
    lines.append("")
    for sub in nested:
        _section_markdown(dataclasses.replace(sub, name=f"{section.name}.{sub.name}"), heading + "#", lines)


def render_markdown(schemas):
    """The config reference (docs/config.md) generated from the schemas."""
    lines = ["# Config reference", "",
             "Generated from the schemas in `hpcx/workflows/` by `hpcx config-docs`; "
             "a test checks that this file is up to date.", "",
             "Every config is a TOML file with a `[run]` section naming the workflow. "
             "Unknown sections or keys, wrong types and out-of-range values are "
             "rejected before any computation with a message naming the file and key.", ""]
    _section_markdown(RUN_SECTION, "##", lines)
    for name, schema in schemas.items():
        lines += [f"## Workflow `{name}`", ""]
        if schema.doc:
            lines += [schema.doc, ""]
        for section in schema.sections:
            _section_markdown(section, "###", lines)
    return "\n".join(lines).rstrip() + "\n"
