"""The report as data: a list of sections of plain blocks, rendered once to Markdown and once to
HTML (figures embedded as data URIs: one file that opens offline and can be mailed as it is).
Cell text may use **bold** and `code`; nothing else is parsed.

Text comes from runs (sweep and implementation names, exceptions' messages), so each renderer
escapes it for its reader: HTML escapes every character HTML reads; Markdown gets no raw HTML
(`<` and `>` as entities), no line breaks (a newline in a name would start a heading or break a
table), no link syntax, and `|` escaped in table cells.
"""
from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Figure:
    title: str  # the caption: the one place the figure is named
    path: Path
    legend: dict[str, str] = field(default_factory=dict)  # what each legend entry is drawn in (#rrggbb)
    titles: tuple[str, ...] = ()  # the figure's own title and its panels' (which name panels, never the figure)


Block = str | list[str] | Table | Figure  # a paragraph, a bullet list, a table, a figure


def num(value: float) -> str:
    """A measured number as a report prints it: three significant digits, whole numbers from 1000
    (4466 GB/s, not 4.47e+03)."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)
    level: int = 2


LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")


def md(text: str) -> str:
    """Text as Markdown shows it, one line, with no HTML and no link in it."""
    return LINE_BREAKS.sub(" ", text).replace("<", "&lt;").replace(">", "&gt;").replace("](", "]\\(")


def md_cell(text: str) -> str:
    return md(text).replace("|", "\\|")


def markdown_block(block: Block, out_dir: Path) -> str:
    if isinstance(block, str):
        return md(block)
    if isinstance(block, list):
        return "\n".join(f"- {md(item)}" for item in block)
    if isinstance(block, Figure):  # the alt text is not shown: the caption below is
        alt = md(block.title).replace('[', '(').replace(']', ')')
        return f"![{alt}]({block.path.relative_to(out_dir).as_posix()})\n\n*{md(block.title)}*"
    lines = ["| " + " | ".join(map(md_cell, block.header)) + " |", "|" + "---|" * len(block.header)]
    return "\n".join(lines + ["| " + " | ".join(map(md_cell, row)) + " |" for row in block.rows])


def to_markdown(title: str, sections: list[Section], out_dir: Path) -> str:
    parts = [f"# {md(title)}"]
    for s in sections:
        parts += [f"{'#' * s.level} {md(s.title)}", *(markdown_block(b, out_dir) for b in s.blocks)]
    return "\n\n".join(parts) + "\n"


BOLD, CODE = re.compile(r"\*\*(.+?)\*\*"), re.compile(r"`(.+?)`")


def inline(text: str) -> str:
    text = html.escape(text, quote=False)
    # a pattern only where its marker is: most of a big report's 250k cells have none
    text = BOLD.sub(r"<b>\1</b>", text) if "**" in text else text
    return CODE.sub(r"<code>\1</code>", text) if "`" in text else text


def html_block(block: Block) -> str:
    if isinstance(block, str):
        return f"<p>{inline(block)}</p>"
    if isinstance(block, list):
        return "<ul>" + "".join(f"<li>{inline(item)}</li>" for item in block) + "</ul>"
    if isinstance(block, Figure):
        data = base64.b64encode(block.path.read_bytes()).decode()
        return (f'<figure><img alt="{html.escape(block.title)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{html.escape(block.title)}</figcaption></figure>")
    head = "".join(f"<th>{inline(c)}</th>" for c in block.header)
    rows = "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>" for row in block.rows)
    return f"<table><tr>{head}</tr>{rows}</table>"


STYLE = """body{font-family:system-ui,sans-serif;max-width:1400px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}th,td{border:1px solid #ccc;padding:4px 8px}
th{background:#f2f2f2}tr:nth-child(even){background:#fafafa}img{max-width:100%;border:1px solid #ddd;margin:.5em 0}
h1,h2{border-bottom:1px solid #ddd}code{background:#f4f4f4;padding:1px 3px}.warn{color:#a00}"""


def to_html(title: str, sections: list[Section]) -> str:
    body = [f"<h1>{inline(title)}</h1>"]
    for s in sections:
        body += [f"<h{s.level}>{inline(s.title)}</h{s.level}>", *(html_block(b) for b in s.blocks)]
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>")
