"""The CLI loads only the command that runs (issue 26): `--help` still lists every command as each says it, and
long tables print as Rich prints them."""

from __future__ import annotations

import inspect
import io
import json
import os
import random
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from offerdesk import cli
from offerdesk.cli import tables

CLI = Path(cli.__file__).parent
NOT_COMMANDS = {"__init__", "common", "tables"}


def test_every_command_module_is_in_the_table() -> None:
    listed = {module for entry in cli.COMMANDS.values() for module in entry.modules}
    assert listed == {p.stem for p in CLI.glob("*.py")} - NOT_COMMANDS


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_the_table_says_what_each_command_says_of_itself(name: str) -> None:
    found = cli.load(name)
    own = found.info.help if isinstance(found, typer.Typer) else inspect.getdoc(found)
    assert cli.COMMANDS[name].help == own
    assert cli.COMMANDS[name].group == isinstance(found, typer.Typer)


def _help(app: typer.Typer, *args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    return result.output


def test_help_with_no_command_loaded_is_the_help_with_every_command_loaded() -> None:
    every = cli.build(cli.COMMANDS.keys())
    assert _help(cli.build(set())) == _help(every)
    shown = _help(every)
    assert all(f"│ {name} " in shown for name in cli.COMMANDS)
    assert _help(cli.build({"round"}), "round") == _help(every, "round")
    assert _help(cli.build({"offer"}), "offer") == _help(every, "offer")


def test_the_command_that_runs_is_the_first_word_that_is_not_an_option() -> None:
    assert cli.wanted(["round", "status", "R1", "--json"], {}) == {"round"}
    assert cli.wanted(["--help"], {}) == set()
    assert cli.wanted([], {}) == set()
    assert cli.wanted(["nosuch", "round"], {}) == set()
    assert set(cli.wanted(["round"], {"_OFFERDESK_COMPLETE": "complete_bash"})) == set(cli.COMMANDS)


HEAVY = ("temporalio", "pydantic", "opentelemetry.sdk", "weasyprint", "sqlalchemy", "openpyxl", "fastapi", "uvicorn")
NOT_FOR_STATUS = ("workflows.offer", "workflows.round", "activities.offer_activities", "temporalio.worker",
                  "opentelemetry.sdk", "offerdesk.observe.tracing", "weasyprint", "pyhanko", "sqlalchemy", "openpyxl",
                  "fastapi", "uvicorn", "offerdesk.cli.run", "offerdesk.cli.offer")  # fmt: skip


def _loaded_by(*args: str) -> set[str]:
    """The modules a fresh interpreter holds once the CLI has built the command for these arguments (and, for
    --help, printed the help); nothing connects."""
    code = (
        "import json, sys\n"
        "from offerdesk import cli\n"
        f"args = {list(args)!r}\n"
        "app = cli.build(cli.wanted(args))\n"
        "try:\n"
        "    app(args) if args == ['--help'] else __import__('typer').main.get_command(app)\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "_OFFERDESK"))}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environ, check=True)
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def _under(modules: set[str], packages: tuple[str, ...]) -> set[str]:
    return {m for m in modules if any(m == p or m.startswith(p + ".") for p in packages)}


def test_help_loads_neither_temporal_nor_any_command() -> None:
    loaded = _loaded_by("--help")
    assert not _under(loaded, HEAVY)
    assert not {m for m in loaded if m.startswith("offerdesk.cli.")} - {"offerdesk.cli"}


def test_round_status_loads_neither_the_workflows_nor_the_worker_nor_the_portal() -> None:
    loaded = _loaded_by("round", "status", "R1")
    assert "offerdesk.cli.round" in loaded and "offerdesk.engine.client" in loaded
    assert not _under(loaded, NOT_FOR_STATUS)


# ---- tables -----------------------------------------------------------------------------------------


def _printed(columns: list[str], rows: list[list[str]], title: str | None, width: int, **kw: Any) -> tuple[str, str]:
    rich, fast = io.StringIO(), io.StringIO()
    Console(file=rich, width=width, **kw).print(tables.table(columns, rows, title))
    tables.print_table(Console(file=fast, width=width, **kw), columns, rows, title)
    return rich.getvalue(), fast.getvalue()


def _drawn_by_rich(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of rows of each table Rich is asked to draw."""
    sizes: list[int] = []
    made = tables.table

    def counted(columns: Any, rows: Any, title: Any = None) -> Any:
        sizes.append(len(rows))
        return made(columns, rows, title)

    monkeypatch.setattr(tables, "table", counted)
    return sizes


TITLE = "Round bench-dash-1: submissions close 2026-12-05T00:04:26.784246+00:00"


def test_a_long_plain_table_prints_as_rich_prints_it_with_rich_drawing_one_blank_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = [[f"{a}{b}", "UNDER_REVIEW" if a < "C" else "INVITED", "2026-12-07T21:06:32.287625+00:00", ""]
            for a in string.ascii_uppercase for b in string.ascii_uppercase]  # fmt: skip
    expected, _ = _printed(["partner", "state", "review deadline", "note"], rows, TITLE, 120)
    sizes = _drawn_by_rich(monkeypatch)
    fast = io.StringIO()
    tables.print_table(Console(file=fast, width=120), ["partner", "state", "review deadline", "note"], rows, TITLE)
    assert fast.getvalue() == expected
    assert sizes == [1]  # the title wraps over the table's width, as Rich wraps it


@pytest.mark.parametrize(
    ("cell", "why"),
    [
        ("[bold]x[/]", "markup"),
        ("deal :smile:", "an emoji code"),
        (" x", "a leading space"),
        ("tab\there", "a tab"),
        ("é", "not ASCII"),
        ("x" * 200, "wider than the console"),
    ],
)
def test_what_rich_would_print_otherwise_goes_to_rich(cell: str, why: str, monkeypatch: pytest.MonkeyPatch) -> None:
    columns, rows = ["partner", "note"], [["EU", "fine"], ["JP", cell]]
    rich, fast = _printed(columns, rows, "A title", 80)
    assert fast == rich, why
    sizes = _drawn_by_rich(monkeypatch)
    tables.print_table(Console(file=io.StringIO(), width=80), columns, rows, "A title")
    assert sizes[-1] == 2, why


def test_tables_of_every_shape_print_as_rich_prints_them() -> None:
    rng = random.Random(26)
    cells = string.ascii_letters + string.digits + " :-+.T"
    for _ in range(200):
        n = rng.randint(1, 5)
        columns = [rng.choice(["partner", "state", "review deadline", "note", "round", "x"]) for _ in range(n)]
        rows = [["".join(rng.choice(cells) for _ in range(rng.randint(0, 30))) for _ in range(n)]
                for _ in range(rng.randint(1, 12))]  # fmt: skip
        title = rng.choice([None, TITLE, "short"])
        width = rng.choice([40, 80, 120, 250])
        colours = rng.choice([{}, {"force_terminal": True, "color_system": "truecolor"}])
        rich, fast = _printed(columns, rows, title, width, **colours)
        assert fast == rich, (columns, rows, title, width, colours)
