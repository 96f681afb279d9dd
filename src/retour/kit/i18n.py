"""French and English. Messages live in Babel ``.po`` catalogs under
``retour/locale/<lang>/LC_MESSAGES/*.po`` (one file per area), read at start-up with no compile
step. English msgids are the source text, so English needs no entry; a French message that is
missing falls back to the English text."""

from __future__ import annotations

import gettext as _gettext
from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


class _Translations(_gettext.NullTranslations):
    def __init__(self, messages: dict[str, str]) -> None:
        super().__init__()
        self._messages = messages

    def gettext(self, message: str) -> str:
        return self._messages.get(message) or message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)


@lru_cache
def translations(language: str, area: str | None = None) -> _gettext.NullTranslations:
    """Every ``*.po`` file of the language (``backoffice.po``, ``portal.po``...) merged. When two
    areas translate the same English text differently, the ``area`` asking wins on its own pages."""
    messages: dict[str, str] = {}
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    if language in LANGUAGES and folder.is_dir():
        for path in sorted(folder.glob("*.po"), key=lambda path: (path.stem == area, path.name)):
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=language)
            messages.update(
                {str(m.id): str(m.string) for m in catalog if m.id and m.string and not isinstance(m.id, tuple)}
            )
    return _Translations(messages)


def gettext(language: str, message: str, area: str | None = None) -> str:
    return translations(normalize(language), area).gettext(message)


def normalize(language: str | None) -> str:
    code = (language or "").split("-")[0].split("_")[0].lower()
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def negotiate(accept_language: str | None, *, default: str = DEFAULT_LANGUAGE) -> str:
    """The best of our languages for an ``Accept-Language`` header."""
    if not accept_language:
        return default
    choices: list[tuple[float, str]] = []
    for part in accept_language.split(","):
        pieces = part.strip().split(";q=")
        code = pieces[0].split("-")[0].strip().lower()
        try:
            weight = float(pieces[1]) if len(pieces) > 1 else 1.0
        except ValueError:
            weight = 0.0
        if code in LANGUAGES:
            choices.append((weight, code))
    return max(choices, key=lambda choice: choice[0])[1] if choices else default
