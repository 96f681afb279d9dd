"""Every message of the back-office (templates and the labels its views define) is in French."""

from __future__ import annotations

import ast
from pathlib import Path

from babel.messages.pofile import read_po
from jinja2.ext import babel_extract

from retour.backoffice import pages
from retour.kit import i18n

SOURCE = Path(pages.__file__).resolve().parent
TEMPLATES = SOURCE.parent / "templates" / "backoffice"


def _messages() -> set[str]:
    found: set[str] = set()
    for path in TEMPLATES.rglob("*.html"):
        with path.open("rb") as handle:
            for _line, _function, message, _comments in babel_extract(
                handle, ["_", "gettext"], [], {"extensions": "jinja2.ext.i18n"}
            ):
                if isinstance(message, str):
                    found.add(message)
                elif message:
                    found.update(m for m in message if m)
    for path in SOURCE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "N_"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    return found


def test_every_backoffice_message_has_a_french_translation() -> None:
    with (i18n.LOCALE_DIR / "fr" / "LC_MESSAGES" / "backoffice.po").open("rb") as handle:
        catalog = read_po(handle, locale="fr")
    translated = {str(message.id) for message in catalog if message.id and message.string}
    assert sorted(_messages() - translated) == []
