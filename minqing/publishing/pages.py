"""What every page the project writes shares: its Jinja templates (minqing/publishing/templates), HTML-escaped,
blocks trimmed. The briefing, an intervention's effect page and the validation report each add their own
filters."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).resolve().parent / "templates"


def environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]),
                       trim_blocks=True, lstrip_blocks=True)
