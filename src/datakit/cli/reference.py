"""The reference of every CLI command and option, as Markdown, generated from the typer app.

`typer.main.get_command(app)` is the command tree `datakit --help` prints from, so the documentation
site lists exactly the commands and options the CLI parses: each command's usage, its help, and a
table of its arguments and options (with the defaults and ranges the parser enforces).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from datakit.config.reference import escape_prose

_RICH_MARKUP = re.compile(r"\[/?(?:bold|italic|dim|red|green|yellow|cyan|magenta|blue|b|i|u|code)\]")


def command_tree() -> Any:
    """The root command of the CLI (typer's click-like command, with `.commands` on groups)."""
    import typer.main

    from datakit.cli.app import app

    return typer.main.get_command(app)


def walk(command: Any, path: tuple[str, ...] = ("datakit",)) -> Iterator[tuple[tuple[str, ...], Any]]:
    """`(words, command)` for the root and every visible subcommand, depth first in name order."""
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        if not sub.hidden:
            yield from walk(sub, (*path, name))


def cli_reference() -> str:
    """The Markdown page of every command."""
    root = command_tree()
    lines = [
        "# Command line",
        "",
        "*Generated from the CLI itself* (`datakit --help` reads the same). Every command also takes the",
        "global options of `datakit` before its name (`datakit --project DIR run job daily`).",
        "",
    ]
    commands = list(walk(root))
    lines += ["| Command | What it does |", "|---|---|"]
    lines += [f"| [`{' '.join(words)}`](#{_anchor(words)}) | {_summary(cmd)} |" for words, cmd in commands]
    lines.append("")
    for words, cmd in commands:
        lines += _command_section(words, cmd)
    return "\n".join(lines).rstrip() + "\n"


def _command_section(words: tuple[str, ...], command: Any) -> list[str]:
    import typer._click.core as click_core

    ctx = click_core.Context(command, info_name=words[-1])
    usage = " ".join([*words, *command.collect_usage_pieces(ctx)])
    level = "#" * min(len(words) + 1, 4)
    lines = [f"{level} `{' '.join(words)}` {{#{_anchor(words)}}}", "", "```text", usage, "```", ""]
    if command.help:
        lines += [_plain(command.help), ""]
    subs = sorted(n for n, c in getattr(command, "commands", {}).items() if not c.hidden)
    if subs:
        lines += ["Subcommands: " + ", ".join(f"[`{n}`](#{_anchor((*words, n))})" for n in subs), ""]
    rows = []
    for param in command.params:
        if param.hidden:
            continue
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, text = record
        kind = "argument" if param.param_type_name == "argument" else "option"
        rows.append(f"| `{_cell(names)}` | {kind} | {_cell(_plain(text))} |")
    if rows:
        lines += ["| Name | | Description |", "|---|---|---|", *rows, ""]
    return lines


def _summary(command: Any) -> str:
    text = _plain(command.short_help or command.help or "")
    first = text.split("\n\n")[0]
    return _cell(first.split(". ")[0].rstrip("."))


def _anchor(words: tuple[str, ...]) -> str:
    return "-".join(words)


def _plain(text: str) -> str:
    """The help text without rich markup, paragraphs kept, lines of a paragraph joined."""
    text = _RICH_MARKUP.sub("", text)
    text = escape_prose(text)
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip())]
    return "\n\n".join(p for p in paragraphs if p)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
