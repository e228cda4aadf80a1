import pytest

from hpcx.config import Field, Schema, Section, render_markdown, validate
from hpcx.errors import ConfigError

SPECIES = Section("species", (
    Field("name", str, doc="label"),
    Field("mass", float, 1.0, "mass", unit="m0", minimum=0.0, exclusive=True),
))
SCHEMAS = {"demo": Schema("demo", (
    Section("physics", (
        Field("temperature", float, 4.0, "lattice temperature", unit="K", minimum=0.0),
        Field("states", str, ("1s",), "states", list_of=True, min_items=1),
        Field("model", str, "sheet", "model", choices=("sheet", "slab")),
        Field("steps", int, 10, "steps", minimum=1),
        Field("species", SPECIES, (), "extra species", list_of=True),
    )),
))}


def check(text):
    return validate("[run]\nworkflow = 'demo'\n" + text, "cfg.toml", SCHEMAS)


def test_defaults_and_types():
    cfg = check("[physics]\ntemperature = 10\n[[physics.species]]\nname = 'X'\n")
    assert cfg.physics.temperature == 10.0 and isinstance(cfg.physics.temperature, float)
    assert cfg.physics.states == ("1s",) and cfg.physics.model == "sheet"
    assert cfg.physics.species[0].name == "X" and cfg.physics.species[0].mass == 1.0
    with pytest.raises(AttributeError):
        cfg.physics.temperature = 3.0  # immutable


@pytest.mark.parametrize("text, key, fragment", [
    ("[physics]\ntemprature = 4\n", "physics.temprature", "did you mean 'temperature'"),
    ("[physcs]\n", "physcs", "did you mean 'physics'"),
    ("[physics]\ntemperature = 'cold'\n", "physics.temperature", "expected number"),
    ("[physics]\nsteps = 2.5\n", "physics.steps", "expected integer"),
    ("[physics]\nsteps = true\n", "physics.steps", "expected integer"),
    ("[physics]\ntemperature = -1.0\n", "physics.temperature", "out of range"),
    ("[physics]\nmodel = 'slb'\n", "physics.model", "did you mean 'slab'"),
    ("[physics]\nstates = []\n", "physics.states", "at least 1"),
    ("[[physics.species]]\nname = 'X'\nmass = -0.5\n", "physics.species[0].mass", "allowed: number > 0"),
    ("[[physics.species]]\nmass = 0.5\n", "physics.species[0].name", "missing required key"),
    ("[physics\n", "", "not valid TOML"),
])
def test_errors_name_file_and_key(text, key, fragment):
    with pytest.raises(ConfigError) as info:
        check(text)
    message = str(info.value)
    assert message.startswith("cfg.toml: ") and fragment in message
    assert info.value.key == key
    assert "\n" not in message


def test_unknown_or_missing_workflow():
    with pytest.raises(ConfigError, match="did you mean 'demo'"):
        validate("[run]\nworkflow = 'dem'\n", "c.toml", SCHEMAS)
    with pytest.raises(ConfigError, match="run.workflow"):
        validate("[physics]\n", "c.toml", SCHEMAS)
    for value in ("[]", "['demo']", "{ name = 'demo' }", "3"):      # not a name: no TypeError
        with pytest.raises(ConfigError, match="run.workflow: unknown workflow"):
            validate(f"[run]\nworkflow = {value}\n", "c.toml", SCHEMAS)


def test_markdown_lists_every_key():
    text = render_markdown(SCHEMAS)
    for key in ("temperature", "states", "model", "steps", "species", "mass"):
        assert f"`{key}`" in text


def test_docs_config_md_is_generated_from_the_schemas():
    from pathlib import Path

    from hpcx import workflows
    docs = Path(__file__).resolve().parents[2] / "docs" / "config.md"
    assert docs.read_text(encoding="utf-8") == render_markdown(workflows.schemas()), \
        "docs/config.md is stale: regenerate with `hpcx config-docs -o docs/config.md`"


# -- encodings and paths ------------------------------------------------------------------

def test_utf8_bom_is_accepted(tmp_path):
    from hpcx.config import read_config_text
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf[run]\nworkflow = 'demo'\n")
    text = read_config_text(path)
    assert validate(text, str(path), SCHEMAS).workflow == "demo" and not text.startswith("\ufeff")
    assert validate("\ufeff[run]\nworkflow = 'demo'\n", "x.toml", SCHEMAS).workflow == "demo"


@pytest.mark.parametrize("data, fragment", [
    ("[run]\nworkflow = 'demo'\n".encode("utf-16"), "is UTF-16 text; save it as UTF-8"),
    (b"[run]\n# caf\xe9\nworkflow = 'demo'\n", "line 2: not UTF-8 text (byte 0xe9)"),
])
def test_other_encodings_get_a_clear_error(tmp_path, data, fragment):
    from hpcx.config import read_config_text
    path = tmp_path / "enc.toml"
    path.write_bytes(data)
    with pytest.raises(ConfigError, match=r"enc.toml: ") as info:
        read_config_text(path)
    assert fragment in str(info.value)


def test_relative_paths_resolve_against_the_config_directory(tmp_path, monkeypatch):
    sub = tmp_path / "configs"
    sub.mkdir()
    monkeypatch.chdir(tmp_path)
    cfg = validate("[run]\nworkflow = 'demo'\n", "configs/c.toml", SCHEMAS)
    monkeypatch.chdir("/")
    assert cfg.path("data/in.h5") == sub / "data" / "in.h5"          # not the working directory
    assert cfg.path("/abs/in.h5").as_posix() == "/abs/in.h5"
    assert cfg.path("~/in.h5").is_absolute()
