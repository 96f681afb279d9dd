"""A small Code 128 reader for the tests, independent of reportlab: the bars a PDF page draws
(filled rectangles of one height) -> module widths -> symbol values (ISO/IEC 15417 table) ->
text, with the check symbol verified."""

from __future__ import annotations

from pypdf import PdfReader
from pypdf.generic import ContentStream

# Bar/space widths (in modules) of the values 0..106 (106 = stop, 7 elements).
PATTERNS = [
    "212222",
    "222122",
    "222221",
    "121223",
    "121322",
    "131222",
    "122213",
    "122312",
    "132212",
    "221213",
    "221312",
    "231212",
    "112232",
    "122132",
    "122231",
    "113222",
    "123122",
    "123221",
    "223211",
    "221132",
    "221231",
    "213212",
    "223112",
    "312131",
    "311222",
    "321122",
    "321221",
    "312212",
    "322112",
    "322211",
    "212123",
    "212321",
    "232121",
    "111323",
    "131123",
    "131321",
    "112313",
    "132113",
    "132311",
    "211313",
    "231113",
    "231311",
    "112133",
    "112331",
    "132131",
    "113123",
    "113321",
    "133121",
    "313121",
    "211331",
    "231131",
    "213113",
    "213311",
    "213131",
    "311123",
    "311321",
    "331121",
    "312113",
    "312311",
    "332111",
    "314111",
    "221411",
    "431111",
    "111224",
    "111422",
    "121124",
    "121421",
    "141122",
    "141221",
    "112214",
    "112412",
    "122114",
    "122411",
    "142112",
    "142211",
    "241211",
    "221114",
    "413111",
    "241112",
    "134111",
    "111242",
    "121142",
    "121241",
    "114212",
    "124112",
    "124211",
    "411212",
    "421112",
    "421211",
    "212141",
    "214121",
    "412121",
    "111143",
    "111341",
    "131141",
    "114113",
    "114311",
    "411113",
    "411311",
    "113141",
    "114131",
    "311141",
    "411131",
    "211412",
    "211214",
    "211232",
    "2331112",
]
VALUES = {pattern: value for value, pattern in enumerate(PATTERNS)}
START_A, START_B, START_C, STOP = 103, 104, 105, 106
CODE_C, CODE_B, CODE_A = 99, 100, 101


def bars_in_pdf(reader: PdfReader, height: float, page: int = 0) -> list[tuple[float, float]]:
    """``(x, width)`` of every filled rectangle ``height`` points tall drawn on the page, left to right."""
    content = ContentStream(reader.pages[page].get_contents(), reader)
    bars = [
        (float(operands[0]), float(operands[2]))
        for operands, operator in content.operations
        if operator == b"re" and abs(float(operands[3]) - height) < 0.01
    ]
    return sorted(bars)


def modules(bars: list[tuple[float, float]]) -> str:
    """The alternating bar/space widths in modules (the narrowest bar is one module)."""
    module = min(width for _, width in bars)
    widths: list[int] = []
    for index, (x, width) in enumerate(bars):
        if index:
            previous_x, previous_width = bars[index - 1]
            widths.append(round((x - previous_x - previous_width) / module))
        widths.append(round(width / module))
    return "".join(str(w) for w in widths)


def decode(widths: str) -> str:
    """The text of a Code 128 symbol from its module widths; raises ValueError if unreadable."""
    symbols = [VALUES[widths[i : i + 6]] for i in range(0, len(widths) - 7, 6)]
    if widths[-7:] != PATTERNS[STOP] or not symbols:
        raise ValueError("no stop pattern")
    *data, check = symbols
    if (data[0] + sum(i * v for i, v in enumerate(data[1:], start=1))) % 103 != check:
        raise ValueError("bad check symbol")
    code = {START_A: "A", START_B: "B", START_C: "C"}[data[0]]
    text = ""
    for value in data[1:]:
        if code == "C":
            if value < 100:
                text += f"{value:02d}"
            else:
                code = {CODE_B: "B", CODE_A: "A"}[value]
        elif value == CODE_C:
            code = "C"
        elif (code, value) in (("B", CODE_A), ("A", CODE_B)):
            code = "A" if value == CODE_A else "B"
        else:
            text += chr(value + 32) if code == "B" or value < 64 else chr(value - 64)
    return text
