"""Every results page's reproduce.py runs in its smoke size and writes its figures and tables."""

import subprocess
import sys

import pytest

from hpcx.reproduce import topics

from helpers import ROOT


def test_every_results_page_has_a_script():
    pages = sorted(p.stem for p in (ROOT / "docs" / "results").glob("*.md"))
    assert topics(), "no docs/results/<topic>/reproduce.py"
    missing = [p for p in pages if p not in topics()]
    assert not missing, f"results pages without docs/results/<topic>/reproduce.py: {missing}"


@pytest.mark.parametrize("topic", topics())
def test_reproduce_smoke(topic, tmp_path):
    script = ROOT / "docs" / "results" / topic / "reproduce.py"
    proc = subprocess.run([sys.executable, str(script), "--smoke", "--workdir", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    written = [line for line in proc.stdout.splitlines() if line.strip()]
    assert written, "the script wrote nothing"
    for line in written:
        assert line.startswith(str(tmp_path)), f"a smoke run wrote outside its workdir: {line}"
    assert any(line.endswith(".png") for line in written), "no figure"
