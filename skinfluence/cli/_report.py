"""The HTML report of ``skinfluence clean``: one self-contained file.

Plots are PNG images embedded as base64 ``data:`` URIs (when matplotlib is
installed), styles are inline; the file needs nothing else to display.
"""

from __future__ import annotations

import base64
import html
import io
import warnings

import numpy as np
from sklearn.model_selection import train_test_split

from ..plotting import TrimmingCurveDisplay

__all__ = ["clean_report", "render_html"]

#: Flagged rows shown in the report's table (the scores CSV has all of them).
MAX_TABLE_ROWS = 100

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.5em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; }
th { background: #f2f2f2; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { display: inline-block; margin: 0.5em; } figcaption { font-size: 0.85em; color: #555; }
.note { color: #555; font-size: 0.9em; }
"""


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _table(header, rows, numeric=()) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{html.escape(str(c))}</td>'
            if i in numeric
            else f"<td>{html.escape(str(c))}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(title: str, sections: list[tuple[str, str]]) -> str:
    """A complete HTML page.

    Parameters
    ----------
    title : str
        Page title (escaped).
    sections : list of (str, str)
        Heading (escaped) and body (HTML, inserted as is) of each section.

    Returns
    -------
    page : str
        The document.
    """
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for heading, body in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>\n{body}")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _figures(*, scores, flagged, method, pipe, X, y, task, seed, curve, template):
    """(caption, base64 PNG) pairs, and notes on what could not be drawn."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        return [], ["Plots need matplotlib: pip install 'skinfluence[plot]'."]
    figures, notes = [], []

    fig, ax = plt.subplots(figsize=(6, 3.5))
    finite = np.isfinite(scores)
    kept = finite.copy()
    kept[flagged] = False
    bins = np.histogram_bin_edges(scores[finite], bins=40)
    ax.hist(scores[kept], bins=bins, color="tab:blue", label="kept")
    ax.hist(scores[flagged], bins=bins, color="tab:red", label=f"flagged ({len(flagged)})")
    ax.set_xlabel(f"{method} score (higher = more harmful)")
    ax.set_ylabel("rows")
    ax.set_yscale("log")
    ax.legend()
    figures.append(("Scores of the scored rows; the flagged ones in red.", _png(fig)))
    plt.close(fig)

    if curve and len(flagged):
        share = len(flagged) / max(int(np.isfinite(scores).sum()), 1)
        budgets = sorted({0.0, share / 2, share, min(2 * share, 0.5)})
        methods = [method] if method == "random" else [method, "random"]
        fig, ax = plt.subplots(figsize=(6, 3.5))
        try:
            stratify = y if task == "classification" else None
            train, test = train_test_split(
                np.arange(len(y)), test_size=0.25, stratify=stratify, random_state=seed
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                TrimmingCurveDisplay.from_estimator(
                    template,
                    X.iloc[train],
                    y[train],
                    X.iloc[test],
                    y[test],
                    budgets=budgets,
                    methods=methods,
                    n_repeats=3,
                    random_state=seed,
                    ax=ax,
                )
            figures.append(
                (
                    "Test score against budget, estimated on a held-out quarter of the rows "
                    "with a target (the pipeline refitted on the other three quarters); "
                    "the grey band spans 3 seeds of random trimming.",
                    _png(fig),
                )
            )
        except ValueError as exc:
            notes.append(f"No trimming curve: {' '.join(str(exc).split())}")
        plt.close(fig)
    return figures, notes


def clean_report(*, table, pipe, X, y, flagged, scores, status, settings, curve, template) -> str:
    """The HTML report of ``skinfluence clean``.

    Parameters
    ----------
    table : skinfluence.cli._input.Table
        The input file as read.
    pipe : Pipeline
        The fitted preprocessing + trimmer.
    X : pandas.DataFrame
        The rows with a target (features).
    y : ndarray
        Their targets.
    flagged : ndarray of int
        Input rows flagged, most harmful first.
    scores : ndarray of shape (n_rows,)
        Score of every input row (``nan`` where not scored).
    status : ndarray of str
        Status of every input row.
    settings : dict
        The options, shown as a table.
    curve : bool
        Whether to draw the trimming curve (extra refits).
    template : Pipeline
        Unfitted clone of ``pipe`` for the curve.

    Returns
    -------
    page : str
        The HTML document.
    """
    counts = {s: int(np.sum(status == s)) for s in ("kept", "flagged", "validation", "no target")}
    summary = [
        ("input file", str(table.path)),
        ("rows", len(table.raw)),
        ("feature columns", table.X.shape[1]),
        ("task", table.task),
    ]
    if table.task == "classification":
        summary.append(("classes", ", ".join(table.classes)))
    summary += [(f"rows {k}", v) for k, v in counts.items()]
    summary += list(settings.items())
    sections = [("Summary", _table(["", ""], summary))]

    figures, notes = _figures(
        scores=scores,
        flagged=flagged,
        method=settings["method"],
        pipe=pipe,
        X=X,
        y=y,
        task=table.task,
        seed=settings["seed"],
        curve=curve,
        template=template,
    )
    body = "".join(
        f'<figure><img alt="{html.escape(c)}" src="data:image/png;base64,{png}">'
        f"<figcaption>{html.escape(c)}</figcaption></figure>"
        for c, png in figures
    )
    body += "".join(f'<p class="note">{html.escape(n)}</p>' for n in notes)
    sections.append(("Plots", body or '<p class="note">No plots.</p>'))

    shown = flagged[:MAX_TABLE_ROWS]
    columns = [str(c) for c in table.raw.columns]
    rows = [
        [rank + 1, int(i), f"{scores[i]:.4g}", *table.raw.iloc[i].tolist()]
        for rank, i in enumerate(shown)
    ]
    more = (
        f'<p class="note">The first {MAX_TABLE_ROWS} of {len(flagged)} flagged rows; '
        "the scores file lists every row.</p>"
        if len(flagged) > MAX_TABLE_ROWS
        else ""
    )
    sections.append(
        (
            f"Flagged rows ({len(flagged)}), most harmful first",
            (
                '<p class="note">row = position among the data rows of the input, from 0.</p>'
                + _table(["rank", "row", "score", *columns], rows, numeric={0, 1, 2})
                + more
            )
            if len(flagged)
            else "<p>No row flagged (budget 0).</p>",
        )
    )
    return render_html(f"skinfluence clean: {table.path.name}", sections)
