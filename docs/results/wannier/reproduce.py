"""Reproduce docs/results/wannier.md: seed 001 Table 1 analogue (slab and sheet models) and the figures.

    python docs/results/wannier/reproduce.py [--smoke] [--workdir DIR]     (make figures TOPIC=wannier)
"""

import tomllib

from hpcx.reproduce import ROOT, Page, markdown_table

SEED_1S_SIO2 = {"MoSe2": 205.0, "WSe2": 177.0, "MoSe2-WSe2": 150.0}   # seed 001 text, meV
ENVIRONMENTS = {"sio2": "SiO2", "vacuum": "vacuum"}


def example(name, screening="slab", states=None):
    """The config of examples/<name>.toml with the screening model (and states) replaced."""
    data = tomllib.loads((ROOT / "examples" / f"{name}.toml").read_text())
    data["structure"]["screening"] = screening
    if states:
        data.setdefault("wannier", {})["states"] = states
    return data


def binding_energies(page, screening, states):
    """{(environment, species): 1s.. binding energies (meV)} of the heterobilayer and the monolayers."""
    out = {}
    for env in ENVIRONMENTS:
        page.run(f"table1_{env}_{screening}", example(f"table1_{env}", screening, states))
        for sp in page.read(f"table1_{env}_{screening}").species:
            out[(env, sp.species.name)] = sp.binding_energy
        for mono in ("MoSe2", "WSe2"):
            page.run(f"{mono}_{env}_{screening}", example(f"monolayer_{mono}_{env}", screening, states))
            out[(env, f"{mono} alone")] = page.read(f"{mono}_{env}_{screening}")[mono].binding_energy
    return out


def table1(eb):
    rows = []
    for env, env_name in ENVIRONMENTS.items():
        for name in ("MoSe2", "WSe2", "MoSe2-WSe2"):
            e = eb[(env, name)]
            mono = eb.get((env, f"{name} alone"))
            seed = SEED_1S_SIO2.get(name) if env == "sio2" else None
            rows.append([env_name, name + (" (interlayer)" if "-" in name else ""), f"{e[0]:.0f}", f"{e[1]:.0f}",
                         f"{e[2]:.0f}", f"{mono[0]:.0f}" if mono is not None else "",
                         f"{100 * (1 - e[0] / mono[0]):.0f} %" if mono is not None else "",
                         f"{seed:.0f}" if seed else "n/a"])
    return markdown_table(["substrate", "exciton", "1s", "2s", "3s", "monolayer 1s", "reduction", "seed 001 1s"],
                          rows)


def sheet_summary(eb):
    rows = [[name, f"{eb[('sio2', name)][0]:.0f}", f"{SEED_1S_SIO2[name]:.0f}"] for name in SEED_1S_SIO2]
    return markdown_table(["exciton (SiO2, sheet model)", "1s (meV)", "seed 001 1s (meV)"], rows)


def main(page):
    states = page.pick(None, ["1s", "2s", "3s"])
    page.table("table1", table1(binding_energies(page, "slab", states)))
    page.table("sheet", sheet_summary(binding_energies(page, "sheet", states)))
    page.run("quickstart", ROOT / "examples" / "quickstart.toml")
    page.plot_run("quickstart")


if __name__ == "__main__":
    Page.main(__file__, main)
