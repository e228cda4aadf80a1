"""Every results page's reproduce.py runs in its smoke size and writes its figures and tables, and
every dataset its run files hold under /results is named in docs/output.md (the output contract)."""

import subprocess
import sys

import pytest

from hpcx.reproduce import topics

from helpers import ROOT, documented_results, undocumented_results


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
    runs = [p for p in tmp_path.rglob("*.h5") if not any(part.endswith(".checkpoint") for part in p.parts)]
    assert runs, "the smoke run wrote no run file"
    documented = documented_results()
    for path in runs:
        workflow, missing = undocumented_results(path, documented)
        assert not missing, f"{path.name} ({workflow}) writes datasets docs/output.md does not name: {missing}"


def test_output_contract_is_parsed_for_every_workflow():
    from hpcx import workflows
    documented = documented_results()
    assert set(documented) == set(workflows.WORKFLOW_MODULES), "docs/output.md needs one section per workflow"
    assert all(len(p) >= 10 for p in documented.values()), {k: len(v) for k, v in documented.items()}
