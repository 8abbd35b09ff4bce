"""Help text without a type placeholder on plain flags.

Typer shows a type column for every option, ``<bool>`` included, so ``--json`` and
``--help`` read as if they took a value. A flag takes none: its type column is left
empty; options that take a value keep theirs.
"""

from __future__ import annotations

from typing import Any


def without_flag_placeholders(command: Any) -> Any:
    """``command`` and every subcommand, their flags (``--help`` too) shown without a type."""
    help_option = command.get_help_option(command.context_class(command))
    for param in [*command.params, help_option]:
        if getattr(param, "is_flag", False):
            param.metavar = ""
    for subcommand in getattr(command, "commands", {}).values():
        without_flag_placeholders(subcommand)
    return command
