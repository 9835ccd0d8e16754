"""The README tells the truth where that can be checked mechanically and cheaply.

- every ``caregrid <command>`` shown in code (inline or fenced) is a real subcommand, and every ``--option`` shown
  after it is accepted by that subcommand's parser (or the top-level one);
- every ``(#anchor)`` link of README.md and docs/DESIGN.md resolves to a heading of the same file (GitHub's slugs);
- every file of the run-folder table is a file of :mod:`simulator.runfolder.schema`, and every file the schema
  names is in the table;
- every key the scenario loader accepts appears in the README (a planner can find it);
- every sub-package of ``simulator/`` is in the README's layout block and has a row in docs/DESIGN.md's table of
  stages; every top-level module is named in both;
- every project path and every ``simulator.x.y`` name the texts show exists (and so does each "see simulator.x" of the
  package's own notes); the scenario table lists every bundled scenario with its resolution;
- the commands said to take ``--set`` do; commands shown with their argument carry their required options; the
  benchmark commands shown exist with their options;
- the JSON API table and the server's routes agree; the facility table's values are the loader's vocabulary; the
  run.json keys of schema.RunKey are named; every pyproject dependency is named.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from pathlib import Path

import pytest

from simulator.cli import build_parser
from simulator.config import scenario as scenario_module
from simulator.runfolder import schema

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DESIGN = (ROOT / "docs" / "DESIGN.md").read_text(encoding="utf-8")


SHELL_FENCES = ("sh", "bash", "shell", "console")


def code_texts(markdown: str, fenced_output: bool = True) -> list[str]:
    """Lines of fenced code blocks and inline code spans of ``markdown``; without ``fenced_output`` only the fenced
    blocks marked as shell commands (```` ```sh ````), not those showing a program's output."""
    out: list[str] = []
    fenced = False
    keep = True
    prose: list[str] = []  # a paragraph of prose: an inline span may run over a line break

    def spans() -> None:
        out.extend(re.findall(r"`([^`]+)`", " ".join(prose)))
        prose.clear()

    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            spans()
            fenced = not fenced
            keep = fenced_output or line.strip()[3:].strip() in SHELL_FENCES
            continue
        if fenced:
            if keep:
                out.append(line)
        elif line.strip():
            prose.append(line.strip())
        else:
            spans()
    spans()
    return out


def command_lines(markdown: str) -> list[str]:
    """Every piece of code that starts a ``caregrid`` command (from ``caregrid`` to the end of the span or line;
    a fenced line continued with a backslash is joined with the next)."""
    out: list[str] = []
    joined: list[str] = []
    carry = ""
    for text in code_texts(markdown, fenced_output=False):
        text = carry + text
        if text.rstrip().endswith("\\"):
            carry = text.rstrip()[:-1] + " "
            continue
        carry = ""
        joined.append(text)
    for text in joined:
        for m in re.finditer(r"(?:^|[\s(;&|])caregrid(\s+[^#]*)", text):
            out.append("caregrid" + m.group(1))
    return out


def subparsers() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return parser, dict(action.choices)
    raise AssertionError("caregrid has no subcommands")


def options_of(parser: argparse.ArgumentParser) -> set[str]:
    return {s for a in parser._actions for s in a.option_strings}


def test_command_lines_are_found() -> None:
    """The parser of this test sees the commands (else the checks below would pass on nothing)."""
    lines = command_lines(README)
    firsts = {line.split()[1] for line in lines if len(line.split()) > 1}
    assert {"run", "validate", "units", "map", "verify", "compare", "sweep", "ensemble", "app"} <= firsts


def test_every_command_shown_exists_and_takes_its_options() -> None:
    top, commands = subparsers()
    top_options = options_of(top)
    problems = []
    for line in command_lines(README) + command_lines(DESIGN):
        words = line.split()[1:]
        while words and words[0] in top_options:  # caregrid --debug COMMAND
            words = words[1:]
        if not words or words[0] in ("COMMAND", "X", "…", "..."):
            continue
        name = words[0].strip("`.,;:)")
        if name not in commands:
            problems.append(f"{line!r}: no subcommand {name!r}")
            continue
        accepted = options_of(commands[name]) | top_options
        for word in words[1:]:
            for opt in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", word):
                if opt not in accepted:
                    problems.append(f"{line!r}: `caregrid {name}` has no option {opt}")
    assert not problems, "\n".join(problems)


def test_the_checker_catches_a_wrong_option_and_command() -> None:
    """The check above can fail: a made-up option and a made-up command are caught."""
    _, commands = subparsers()
    assert "--sample" not in options_of(commands["ensemble"])
    assert "plan" not in commands
    lines = command_lines("Run `caregrid ensemble X --sample 3` then\n```sh\ncaregrid run a \\\n    --repiar\n```\n")
    assert lines == ["caregrid ensemble X --sample 3", "caregrid run a      --repiar"]


def github_slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped (letters of any script, digits, ``_``, ``-``
    and spaces kept), spaces become hyphens."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    fenced = False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if fenced or not line.startswith("#"):
            continue
        slug = github_slug(line.lstrip("#"))
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def test_github_slug() -> None:
    assert github_slug(" The planner's workspace (`caregrid app`)") == "the-planners-workspace-caregrid-app"
    assert github_slug("Ensembles: planning through unknown data 集成方案") == (
        "ensembles-planning-through-unknown-data-集成方案")


@pytest.mark.parametrize("name,text", [("README.md", README), ("docs/DESIGN.md", DESIGN)])
def test_internal_links_resolve(name: str, text: str) -> None:
    have = anchors(text)
    links = re.findall(r"\]\(#([^)\s]+)\)", text)
    missing = sorted({a for a in links if a not in have})
    assert not missing, f"{name}: links to missing headings: {missing}"


def table_files(markdown: str, heading: str) -> list[str]:
    """File names in the first column of the table under ``heading``."""
    section = markdown.split(heading, 1)[1].split("\n#", 1)[0]
    files = []
    for line in section.splitlines():
        if line.startswith("| `"):
            first = line.split("|")[1]
            files += re.findall(r"`([\w.]+\.(?:gpkg|csv|json|html|png|pdf))`", first)
    return files


def schema_files() -> set[str]:
    return {v for k, v in vars(schema).items() if k.isupper() and isinstance(v, str)
            and re.fullmatch(r"[\w.]+\.(gpkg|csv|json|html|png|pdf)", v)}


def test_run_folder_table_matches_the_schema() -> None:
    listed = set(table_files(README, "### The run folder (`caregrid run`)"))
    assert "plan.gpkg" in listed and "run.json" in listed
    known = schema_files()
    assert listed - known == set(), f"README lists files the schema does not know: {sorted(listed - known)}"
    assert known - listed == set(), f"README's run-folder table misses: {sorted(known - listed)}"


def scenario_keys() -> list[str]:
    """Every key a scenario file may set: top level, ``section.key``, and the keys of ``[[changes]]``."""
    keys = [k for k in scenario_module._TOP]
    for section, cls in scenario_module._SECTIONS.items():
        keys += [f"{section}.{f.name}" for f in dataclasses.fields(cls)]
    return keys


def test_every_scenario_key_is_documented() -> None:
    """A key counts as documented when the README shows it in code as ``key`` or ``section.key`` (also inside a
    longer code span, e.g. ``plan.locked_units = "locked.csv"``)."""
    code = " ".join(code_texts(README))
    missing = []
    for key in scenario_keys():
        bare = key.rsplit(".", 1)[-1]
        if not re.search(rf"(?<![\w.]){re.escape(key)}(?![\w])", code) and not re.search(
                rf"(?<![\w.]){re.escape(bare)}(?![\w])", code):
            missing.append(key)
    assert not missing, f"scenario keys the README does not mention: {missing}"


def test_every_subpackage_is_in_the_layout_and_design() -> None:
    packages = sorted(p.name for p in (ROOT / "simulator").iterdir() if (p / "__init__.py").exists())
    modules = sorted(p.name for p in (ROOT / "simulator").glob("*.py") if p.name != "__init__.py")
    layout = README.split("## Layout", 1)[1].split("```", 2)[1]
    missing_readme = [p for p in packages if f"{p}/" not in layout] + [m for m in modules if m not in layout]
    table_rows = [line for line in DESIGN.splitlines() if line.startswith("| `")]
    missing_design = [p for p in packages if not any(r.startswith(f"| `{p}/` |") for r in table_rows)]
    missing_design += [m for m in modules if m not in DESIGN]
    assert not missing_readme, f"README layout misses {missing_readme}"
    assert not missing_design, f"docs/DESIGN.md misses {missing_design}"


#: paths the texts name on purpose although they do not exist: an error message's example scenario, and the files
#: the worked examples of docs/DESIGN.md create (a new rule set, a new contiguity family)
EXAMPLE_PATHS = {"scenarios/x.toml", "simulator/config/rules/hebei-2024.toml",
                 "simulator/optimise/contiguity/cost_star.py"}


def test_every_path_named_exists() -> None:
    """Every project path the README and docs/DESIGN.md name in code (``scenarios/x.toml``, ``benchmarks/x.py``,
    ``tests/…``, ``simulator/…``, ``geodata/…``, ``docs/…``, ``scripts/…``, ``notebooks/``) is in the project."""
    missing = []
    for name, text in (("README.md", README), ("docs/DESIGN.md", DESIGN)):
        for code in code_texts(text):
            for path in re.findall(r"(?<![\w./])((?:scenarios|benchmarks|tests|simulator|geodata|docs|scripts|"
                                   r"notebooks)/[\w./-]*[\w/])", code):
                if "*" in path or "<" in path or path in EXAMPLE_PATHS:
                    continue
                if not (ROOT / path).exists():
                    missing.append(f"{name}: {path}")
    assert not missing, f"paths that do not exist: {sorted(set(missing))}"


def test_every_bundled_scenario_is_in_the_table() -> None:
    section = README.split("## Scenarios (`scenarios/*.toml`)", 1)[1].split("\n\n", 2)[1]
    listed = set(re.findall(r"^\| `([\w.]+\.toml)`", section, flags=re.M))
    bundled = {p.name for p in (ROOT / "scenarios").glob("*.toml")}
    assert listed == bundled, f"only in the table: {sorted(listed - bundled)}; not in it: {sorted(bundled - listed)}"


def test_the_commands_said_to_take_set_do() -> None:
    """The README names the commands that take ``--set``: exactly those whose parser has it."""
    _, commands = subparsers()
    sentence = README.split("Every command that reads a scenario (", 1)[1].split(")", 1)[0]
    named = set(re.findall(r"`(\w+)`", sentence))
    assert named == {name for name, p in commands.items() if "--set" in options_of(p)}


def resolves(dotted: str) -> bool:
    """``simulator.a.b.c`` names a module, or an attribute of one."""
    import importlib

    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:k]))
        except ImportError:
            continue
        for name in parts[k:]:
            if not hasattr(obj, name):
                return False
            obj = getattr(obj, name)
        return True
    return False


def test_every_dotted_name_resolves() -> None:
    """``simulator.x.y`` named in the README's and DESIGN's code, and in the notes the package prints ("see
    simulator.x"), is a module or one of its attributes."""
    names = set()
    for text in (README, DESIGN):
        for code in code_texts(text):
            names.update(re.findall(r"(?<![\w/])(simulator(?:\.\w+)+)", code))
    for path in (ROOT / "simulator").rglob("*.py"):
        names.update(re.findall(r"see (simulator(?:\.\w+)+)\)", path.read_text(encoding="utf-8")))
    assert resolves("simulator.units.population.model_population") and not resolves("simulator.population")
    missing = sorted(n.rstrip(".") for n in names if not resolves(n.rstrip(".")))
    assert not missing, f"names that do not resolve: {missing}"


def test_json_api_table_matches_the_server() -> None:
    """Every request of the README's JSON API table is a route of the workspace server, and every /api route of the
    server is in the table (its source is read, so no workspace needs to be built)."""
    source = (ROOT / "simulator" / "app" / "server.py").read_text(encoding="utf-8")
    routes = {(m.upper(), re.sub(r"\{\w+\}", "{id}", p))
              for m, p in re.findall(r'@app\.(get|post)\("(/api/[^"]*)"', source)}
    section = README.split("### The JSON API", 1)[1].split("\n#", 1)[0]
    listed = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            for m, p in re.findall(r"`(GET|POST) (/api/[^`]*)`", line.split("|")[1]):
                listed.add((m, re.sub(r"\{\w+\}", "{id}", p)))
    assert ("GET", "/api/state") in listed
    assert listed - routes == set(), f"README lists requests the server lacks: {sorted(listed - routes)}"
    assert routes - listed == set(), f"README's API table misses: {sorted(routes - listed)}"


def test_facility_table_values_match_the_vocabulary() -> None:
    """The allowed values the README's facility table lists for level, kind, ownership and location_quality are
    exactly the loader's, and every capability / readiness / team column the loader reads is in the table."""
    from simulator.load import validate

    section = README.split("**Facility tables**", 1)[1].split("\n\n", 2)[1]
    rows = {}
    for line in section.splitlines():
        if line.startswith("| `"):
            cells = line.split("|")
            for name in re.findall(r"`(\w+)`", cells[1]):
                rows[name] = set(re.findall(r"`(\w+)`", cells[3]))
    rows = {name: values - {"grade"} for name, values in rows.items()}  # "a grade … also sets `grade`"
    assert rows["level"] == set(validate.LEVELS)
    assert rows["kind"] == set(validate.KINDS)
    assert rows["ownership"] == set(validate.OWNERSHIPS)
    assert rows["location_quality"] == set(validate.LOCATION_QUALITIES)
    columns = (*validate.FACILITY_REQUIRED, *validate.READINESS_FIELDS, *validate.CAPABILITY_FLAGS,
               *validate.TEAM_FIELDS, *(name for name, _ in validate.FACILITY_FLAGS))
    assert set(columns) - set(rows) == set(), f"facility columns not in the README: {set(columns) - set(rows)}"


def test_run_json_keys_of_the_table_are_the_schemas() -> None:
    """The keys the run-folder table names for run.json include every key the schema says other code reads."""
    row = next(line for line in README.splitlines() if line.startswith("| `run.json` |"))
    named = set(re.findall(r"`(\w+)`", row.split("|")[2]))
    required = {v for k, v in vars(schema.RunKey).items() if k.isupper()}
    assert "scenario" in required
    assert required <= named, f"run.json keys the README does not name: {sorted(required - named)}"


def test_every_dependency_is_named() -> None:
    """Every package of pyproject.toml (dependencies and extras) is named in the README's Dependencies section."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    section = README.split("## Dependencies", 1)[1].lower()
    wanted = list(project["dependencies"]) + [d for extra in project.get("optional-dependencies", {}).values()
                                              for d in extra]
    names = {re.split(r"[<>=\[;~! ]", d, maxsplit=1)[0].lower() for d in wanted}
    missing = sorted(n for n in names if n not in section and n.replace("-", "_") not in section
                     and not n.startswith("caregrid"))
    assert not missing, f"dependencies the README does not name: {missing}"


def test_scenario_table_resolutions() -> None:
    """The H3 resolution the scenario table gives is the one the scenario file sets (or the loader's default)."""
    from simulator.config.scenario import load_scenario

    section = README.split("## Scenarios (`scenarios/*.toml`)", 1)[1].split("\n\n", 2)[1]
    wrong = []
    rows = re.findall(r"^\| `([\w.]+\.toml)`.*\| (\d+) \|$", section, flags=re.M)
    assert len(rows) == len(list((ROOT / "scenarios").glob("*.toml")))
    for name, res in rows:
        got = load_scenario(ROOT / "scenarios" / name).units.resolution
        if got != int(res):
            wrong.append(f"{name}: README {res}, file {got}")
    assert not wrong, wrong


def test_full_commands_carry_their_required_options() -> None:
    """A command shown with its argument (``caregrid sweep scenarios/x.toml …``) carries the options its parser
    requires (``--out``): a planner copies it as it stands. Bare mentions (``caregrid ensemble``) are not commands."""
    _, commands = subparsers()
    problems = []
    for line in command_lines(README) + command_lines(DESIGN):
        words = line.split()[1:]
        if len(words) < 2 or words[0] not in commands or words[1].startswith("-"):
            continue
        required = {a.option_strings[0] for a in commands[words[0]]._actions if a.required and a.option_strings}
        given = {w.split("=", 1)[0].strip("[]") for w in words[1:]}
        if required - given:
            problems.append(f"{line!r} lacks {sorted(required - given)}")
    assert not problems, "\n".join(problems)


def test_benchmark_commands_take_their_options() -> None:
    """``python benchmarks/x.py --opt …`` shown in the README: the script exists and defines every option shown."""
    problems = []
    shown = 0
    for code in code_texts(README):
        for script, rest in re.findall(r"python (benchmarks/\w+\.py)([^`]*)", code):
            shown += 1
            path = ROOT / script
            if not path.exists():
                problems.append(f"{script} does not exist")
                continue
            source = path.read_text(encoding="utf-8")
            problems += [f"{script} has no option {opt}" for opt in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", rest)
                         if f'"{opt}"' not in source]
    assert shown >= 5
    assert not problems, problems


def test_design_re_exports_exist() -> None:
    """The names DESIGN.md says ``simulator/__init__.py`` re-exports are attributes of ``simulator``."""
    import simulator

    sentence = DESIGN.split("`simulator/__init__.py` re-exports the small public API (", 1)[1].split("…", 1)[0]
    names = re.findall(r"`(\w+)`", sentence)
    assert len(names) >= 5
    missing = [n for n in names if not hasattr(simulator, n)]
    assert not missing, f"simulator does not export {missing}"


def test_what_if_example_covers_every_action_and_key() -> None:
    """The README's ``[[changes]]`` example shows every action the loader accepts and names every key of each."""
    block = README.split("### What-if changes 方案调整", 1)[1].split("```toml", 1)[1].split("```", 1)[0]
    for action, keys in scenario_module.CHANGE_KEYS.items():
        assert f'action = "{action}"' in block, action
        missing = [k for k in keys if not re.search(rf"(?<![\w.]){k}(?![\w])", block)]
        assert not missing, f"{action}: keys not in the example: {missing}"
