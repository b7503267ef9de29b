"""The documentation's examples cannot drift: every YAML block validates as the file it names, every
`datakit` command line in a shell block is one the CLI parses, and the tutorial runs from top to bottom.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from datakit.cli.reference import command_tree
from datakit.config.loader import validate_file
from datakit.config.models import KINDS
from datakit.contracts.spec import contract_from_spec
from datakit.utils.fences import Fence
from tests.conftest import EXAMPLES
from tests.docs.site import TUTORIAL, blocks, tutorial_script

FOLDERS = {kind.folder: kind for kind in KINDS.values() if kind.folder}


def _config_problems(block: Fence) -> list[str]:
    """The errors of a block titled `datakit.yaml` or `config/...`, validated as that file."""
    title = block.title or ""
    path = Path(title)
    text = block.text
    if path.name == "datakit.yaml":
        data = yaml.safe_load(text) or {}
        if "name" not in data:  # an excerpt of datakit.yaml: the settings it shows, under any name
            text = "name: example\n" + text
    kind, problems = validate_file(path, text)
    errors = [f"{block.where}: {p.render()}" for p in problems if p.severity == "error"]
    if kind is None:
        return errors or [f"{block.where}: no datakit object in a block titled {title}"]
    if path.parts[0] == "config" and len(path.parts) > 2:
        expected = FOLDERS.get(path.parts[1])
        if expected is not kind:
            errors.append(f"{block.where}: a {kind.key} in a block titled {title} (config/{kind.folder}/...)")
    elif path.name == "secrets_mapping.yaml" and kind.key != "secrets":
        errors.append(f"{block.where}: {title} holds a {kind.key}, not the secrets mapping")
    return errors


def test_every_yaml_block_names_its_file_and_validates_as_that_file() -> None:
    """A block says which file it is (`title="config/sources/x.yaml"`); its kind follows from the path."""
    checked = 0
    errors: list[str] = []
    for block in blocks("yaml"):
        title = block.title
        if not title:
            errors.append(f'{block.where}: say which file this block is: ```yaml title="config/..."')
            continue
        if title == "datakit.yaml" or title.startswith("config/"):
            errors += _config_problems(block)
        elif title.startswith("datakits/") and "/contracts/" in title:
            data = yaml.safe_load(block.text)
            for spec in data if isinstance(data, list) else [data]:
                contract_from_spec(spec)
        elif title.startswith("transform/"):  # a dbt file: dbt reads it (the tutorial runs dbt on it)
            assert isinstance(yaml.safe_load(block.text), dict), block.where
        else:
            errors.append(f"{block.where}: {title} is no file datakit reads (datakit.yaml, config/, ...)")
        checked += 1
    assert not errors, "\n".join(errors)
    assert checked >= 30


def _commands() -> dict[tuple[str, ...], set[str]]:
    """Each command's words -> the option names it (or `datakit` itself) accepts."""
    from datakit.cli.reference import walk

    found = {}
    root = command_tree()
    root_options = {o for p in root.params for o in (*p.opts, *p.secondary_opts)}
    for words, command in walk(root):
        options = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
        found[words] = options | root_options | {"-h", "--help"}
    return found


def _command_lines(block: Fence) -> Iterator[tuple[int, list[str]]]:
    """`(line, words)` of each line of a shell block that runs `datakit`, comments and `|` pipes cut."""
    for offset, line in enumerate(block.text.splitlines(), start=1):
        code = line.split(" #")[0].split("&&")[-1].split(" | ")[0].strip()
        code = re.sub(r"^(\$ )?([A-Z_][A-Z0-9_]*=\S* )*", "", code)  # a prompt, `ENVIRONMENT=prod ...`
        if code.startswith("datakit "):
            yield block.line + offset, shlex.split(code.replace("[", " ").replace("]", " "))


def test_every_datakit_command_line_in_the_docs_is_one_the_cli_parses() -> None:
    """Each `datakit ...` line names real commands (`a|b` alternatives each) and real options."""
    commands = _commands()
    errors = []
    checked = 0
    for block in [*blocks("sh"), *blocks("bash")]:
        for line, words in _command_lines(block):
            path = ["datakit"]
            rest = words[1:]
            while rest and not rest[0].startswith("-"):
                options = rest[0].split("|")
                nested = [(*path, o) for o in options if (*path, o) in commands]
                if not nested:
                    break
                if len(nested) != len(options):
                    errors.append(f"{block.path}:{line}: no command {' '.join([*path, rest[0]])}")
                path.append(options[0])
                rest = rest[1:]
            if tuple(path) == ("datakit",) and rest and not rest[0].startswith("-"):
                errors.append(f"{block.path}:{line}: no command datakit {rest[0]}")
                continue
            accepted = commands[tuple(path)]
            for word in rest:
                for name in (w.split("=")[0] for w in word.split("|")):  # `[--upstream|--downstream]`
                    is_option = name.startswith("-") and name not in ("-", "--") and not name[1:2].isdigit()
                    if is_option and name not in accepted:
                        errors.append(f"{block.path}:{line}: {' '.join(path)} has no option {name}")
            checked += 1
    assert not errors, "\n".join(errors)
    assert checked >= 40


@pytest.fixture
def payments_api() -> Iterator[tuple[str, dict[str, str]]]:
    """The jaffle shop's payments API (the tutorial's REST source) on a free port, as the tutorial runs it."""
    tokens = {
        "JAFFLE_API_TOKEN_DEFAULT": "shop-token-7Qx2",
        "JAFFLE_API_TOKEN_ACME": "acme-token-3Kp8",
        "JAFFLE_API_TOKEN_GLOBEX": "globex-token-9Zr4",
    }
    assert all(value in TUTORIAL.read_text(encoding="utf-8") for value in tokens.values())
    server = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "jaffle_shop" / "api.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | tokens,
    )
    assert server.stdout is not None
    line = server.stdout.readline()  # printed once it listens
    assert line.startswith("serving on "), line
    yield line.split()[-1], tokens
    server.terminate()
    server.wait()


def test_the_tutorial_runs_from_init_to_two_tenants(
    tmp_path: Path, payments_api: tuple[str, dict[str, str]]
) -> None:
    import duckdb

    url, _ = payments_api
    script = tmp_path / "tutorial.sh"
    script.write_text(tutorial_script(), encoding="utf-8")
    bin_dir = str(Path(sys.executable).parent)
    env = os.environ | {"PAYMENTS_API_URL": url, "PATH": f"{bin_dir}:{os.environ['PATH']}", "COLUMNS": "200"}
    env.pop("ENVIRONMENT", None)
    done = subprocess.run(
        ["bash", str(script)], check=False, cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    shop = tmp_path / "shop"
    data = EXAMPLES / "jaffle_shop" / "data"
    payments = {
        tenant: len(yaml.safe_load((data / tenant / "payments.json").read_bytes()))
        for tenant in ("default", "acme", "globex")
    }
    for tenant, database, prefix in (
        ("default", "warehouse.duckdb", ""),
        ("acme", "acme.duckdb", "acme_"),
        ("globex", "globex.duckdb", "globex_"),
    ):
        with duckdb.connect(str(shop / database), read_only=True) as db:
            loaded = db.sql(f"select count(*) from {prefix}br__payments__main.payments").fetchall()
            assert loaded == [(payments[tenant],)], tenant
            by_method = db.sql(f"select sum(payments) from {prefix}main.payments_by_method").fetchall()
            assert by_method == [(payments[tenant],)], tenant
            customers = db.sql(f"select count(*) from {prefix}main.customer_revenue").fetchall()
            assert customers == [(50,)], tenant
            returns = db.sql(f"select count(*) from {prefix}br__exports__main.returns").fetchall()
            assert returns == [(2,)], tenant
    assert "✓ job daily succeeded in 2 warehouses" in done.stdout


def test_each_troubleshooting_entry_is_about_a_message_datakit_still_gives() -> None:
    """An entry names the source text of its message (`<!-- from: "..." -->`): it must still be there."""
    from tests.conftest import REPO

    page = (REPO / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
    entries = page.count("\n### ")
    phrases = re.findall(r'<!-- from: "(.+?)" -->', page)
    assert len(phrases) == entries >= 20
    source = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "src" / "datakit").rglob("*.py"))
    gone = [phrase for phrase in phrases if phrase not in source]
    assert not gone, f"messages no longer in src/datakit (update docs/troubleshooting.md): {gone}"
