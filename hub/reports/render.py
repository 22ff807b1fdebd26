"""The monthly reports as files: one CSV per report, and one self-contained HTML page with charts
(matplotlib's SVG, embedded) that a court contact can open from an e-mail -- no script, no link
out, nothing fetched."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from hub.reports.monthly import STATEWIDE, Reports, Table

_ENV = Environment(loader=PackageLoader("hub.reports", "templates"), autoescape=select_autoescape(["html"]))

#: Charts: (report, title, the bar's label column, the bars' value column). Courts' rows only.
_CHARTS = (
    ("volume-by-court", "Orders entered in force, by court", "Court", "Entered in force"),
    ("orders-by-type", "Orders in force at month end, by type", "Order type", "In force at month end"),
    ("total-record-count", "Orders in force at month end, by court", "Court", "Active"),
)


def write(reports: Reports, out: Path) -> list[Path]:
    """Write the reports into ``out`` (created if need be): the CSVs and ``index.html``; their paths."""
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{reports.month}-{reports.court or 'statewide'}"
    written = []
    for table in reports.tables:
        path = out / f"{stem}-{table.name}.csv"
        path.write_text(table.csv(), encoding="utf-8", newline="")
        written.append(path)
    page = out / f"{stem}.html"
    page.write_text(html(reports), encoding="utf-8")
    written.append(page)
    return written


def html(reports: Reports) -> str:
    charts = [(title, svg(reports.table(name), label, value)) for name, title, label, value in _CHARTS]
    charts.append(("CARPOS acceptance of the month's transactions", _aging_svg(reports.table("aging"))))
    return _ENV.get_template("monthly.html").render(reports=reports, charts=charts, statewide=STATEWIDE)


def svg(table: Table, label: str, value: str, *, top: int = 20) -> str:
    """A horizontal bar chart of ``value`` by ``label`` over the table's rows (the total left out;
    summed where a label repeats; the ``top`` largest)."""
    bars: dict[str, int] = {}
    for row in table.rows:
        if row[0] == STATEWIDE:
            continue
        key = str(row[table.columns.index(label)])
        bars[key] = bars.get(key, 0) + int(row[table.columns.index(value)])
    shown = sorted(bars.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return _bars([k for k, _ in shown], [v for _, v in shown], value)


def _aging_svg(table: Table) -> str:
    rows = [r for r in table.rows if r[0] == STATEWIDE and r[1].startswith("CARPOS")] or [
        r for r in table.rows if r[1].startswith("CARPOS")
    ]
    return _bars([r[2] for r in rows], [int(r[3]) for r in rows], "transactions")


def _bars(labels: list[str], values: list[int], unit: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    plt.rcParams["svg.hashsalt"] = "ccpor"  # the same figures give the same file
    height = max(1.6, 0.32 * len(labels) + 0.8)
    fig, ax = plt.subplots(figsize=(7.5, height))
    try:
        if labels:
            ax.barh(labels[::-1], values[::-1], color="#2f5d8a")
            for i, v in enumerate(values[::-1]):
                ax.text(v, i, f" {v:,}", va="center", fontsize=8)
        else:
            ax.text(0.5, 0.5, "nothing this month", ha="center", va="center", transform=ax.transAxes)
            ax.set_yticks([])
        ax.set_xlabel(unit)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    finally:
        plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]  # the XML declaration and DOCTYPE do not belong inside HTML


def as_dict(reports: Reports) -> dict[str, Any]:
    return {
        "month": str(reports.month),
        "court": reports.court or STATEWIDE,
        "tables": {t.name: {"columns": list(t.columns), "rows": [list(r) for r in t.rows]} for t in reports.tables},
    }
