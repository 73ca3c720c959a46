"""HTML building blocks of the report: page, sections, panels, tables, figures and number formats.

Everything user-supplied is escaped; figures are embedded as base64 PNG so the page is
self-contained.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterable
from html import escape

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

SECTIONS: dict[str, str] = {
    "quality": "How good are the models?",
    "customers": "Your customer base",
    "drivers": "What drives value and churn",
    "act-first": "Who to act on first",
}
"""Section id -> heading, in page order."""


CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#222;
background:#f6f7f9;line-height:1.45}
main{max-width:1120px;margin:0 auto;padding:24px}
header{background:#1f3b57;color:#fff;padding:20px 24px}
header h1{margin:0 0 6px 0;font-size:26px}
header p{margin:2px 0;opacity:.9}
nav a{color:#fff;margin-right:16px}
section{background:#fff;border-radius:8px;padding:8px 24px 20px;margin:20px 0;
box-shadow:0 1px 3px rgba(0,0,0,.08)}
h2{border-bottom:2px solid #1f3b57;padding-bottom:6px}
h3{margin-top:28px}
.panel{display:flex;flex-wrap:wrap;gap:20px;align-items:flex-start;margin:12px 0}
.panel img{max-width:100%;height:auto;border:1px solid #eee}
.facts{flex:1 1 260px;min-width:240px}
.facts dt{font-size:13px;color:#555;margin-top:8px}
.facts dd{margin:0;font-size:20px;font-weight:600}
.facts dd small{font-size:12px;font-weight:400;color:#555}
.lead{font-size:16px}
.note{color:#555;font-size:13px}
.missing,.warn{background:#fff6e5;border-left:4px solid #e0a030;padding:10px 14px}
.verdict{font-size:15px;background:#eef6ee;border-left:4px solid #55A868;padding:8px 14px}
.verdict.lose{background:#fdecec;border-left-color:#C44E52}
.rule{margin:6px 0;font-size:14px}
.wide{max-width:100%;overflow-x:auto}
table.actions td.cell{min-width:150px;line-height:1.5}
table.actions td.na{color:#aaa}
.lever{font-weight:600;color:#1f3b57}
table{border-collapse:collapse;margin:10px 0;font-size:13px}
th,td{padding:5px 9px;border-bottom:1px solid #e3e3e3;text-align:right;vertical-align:top}
th{background:#eef1f5}
td.text,th.text{text-align:left}
"""


def figure_uri(fig: Figure, dpi: int = 100) -> str:
    """PNG data URI of a figure (the figure is closed afterwards)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def image(fig: Figure, alt: str) -> str:
    """An ``<img>`` with the figure embedded."""
    return f'<img src="{figure_uri(fig)}" alt="{escape(alt)}">'


def facts(items: Iterable[tuple[str, str, str]]) -> str:
    """Headline numbers: (label, value, small print) triples as a definition list."""
    rows = "".join(
        f"<dt>{escape(label)}</dt><dd>{escape(value)}"
        + (f" <small>{escape(extra)}</small>" if extra else "")
        + "</dd>"
        for label, value, extra in items
    )
    return f'<dl class="facts">{rows}</dl>'


def panel(figure_html: str, facts_html: str = "", caption: str = "") -> str:
    """A figure with its headline numbers beside it and a one-line reading guide below."""
    note = f'<p class="note">{escape(caption)}</p>' if caption else ""
    return f'<div class="panel"><div>{figure_html}{note}</div>{facts_html}</div>'


def table(frame: pd.DataFrame, formats: dict[str, Callable[[object], str]]) -> str:
    """An HTML table of ``frame`` (index as first column); ``formats`` maps column -> formatter.

    Column headers are the ``formats`` keys' display names given as ``frame`` column names;
    text columns (not in ``formats``) are left-aligned.
    """
    head = f'<th class="text">{escape(str(frame.index.name or ""))}</th>' + "".join(
        ("<th>" if col in formats else '<th class="text">') + f"{escape(str(col))}</th>"
        for col in frame.columns
    )
    body = []
    for index, row in frame.iterrows():
        cells = [f'<td class="text">{escape(str(index))}</td>']
        for col in frame.columns:
            value = row[col]
            if col in formats:
                cells.append(f"<td>{escape(formats[col](value))}</td>")
            else:
                cells.append(
                    f'<td class="text">{escape("" if pd.isna(value) else str(value))}</td>'
                )
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def missing(message: str) -> str:
    """A visible note that a part of the report could not be drawn, and why."""
    return f'<p class="missing">{escape(message)}</p>'


def section(key: str, body: str) -> str:
    """A report section with its standard heading (see ``SECTIONS``)."""
    return f'<section id="{key}"><h2>{escape(SECTIONS[key])}</h2>{body}</section>'


def page(title: str, subtitle: list[str], sections: list[str]) -> str:
    """The whole self-contained HTML document."""
    nav = "".join(f'<a href="#{k}">{escape(v)}</a>' for k, v in SECTIONS.items())
    lines = "".join(f"<p>{escape(s)}</p>" for s in subtitle)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{escape(title)}</h1>{lines}<nav>{nav}</nav></header>"
        f"<main>{''.join(sections)}</main></body></html>\n"
    )


def money(x: object) -> str:
    """Currency amount, no decimals, thousands separated."""
    return "-" if pd.isna(x) else f"{float(x):,.0f}"


def pct(x: object, digits: int = 0) -> str:
    """A share as a percentage."""
    return "-" if pd.isna(x) else f"{float(x) * 100:.{digits}f}%"


def num(x: object, digits: int = 3) -> str:
    """A plain number."""
    return "-" if pd.isna(x) else f"{float(x):,.{digits}f}"


def points(x: float) -> str:
    """A probability change in percentage points."""
    return f"{x * 100:+.1f} pts"


def signed_money(x: float) -> str:
    """A signed currency amount."""
    return f"{x:+,.0f}"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
