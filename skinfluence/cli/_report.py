"""The HTML report of ``skinfluence clean``: one self-contained file.

What it shows, top to bottom: the verdict (the cross-validated score untrimmed, at
the chosen budget and with random trimming, :mod:`skinfluence.cli._verdict`), the row
counts (they add up to the cleaned file), the trimming curve with the chosen budget
marked, the histogram of the scores, the flagged rows (label first, the cleaned
model's probability for it, the original cells rounded), the per-fold scores and the
settings. Plots are PNG images embedded as base64 ``data:`` URIs (when matplotlib is
installed), styles are inline; the file needs nothing else to display.
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np

from ..plotting import TrimmingCurveDisplay
from ._verdict import N_STDERR, Verdict, mean_std

__all__ = ["clean_report", "render_html"]

#: Flagged rows shown in the report's table (the scores CSV has all of them).
MAX_TABLE_ROWS = 100
#: Significant digits of the numbers in the flagged rows' cells.
DIGITS = 4

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 72em;
       padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.45em; margin-bottom: 0.3em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; white-space: nowrap; }
th { background: #f2f2f2; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; max-width: 100%; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; vertical-align: top; }
figcaption { font-size: 0.85em; color: #555; max-width: 34em; }
.note { color: #555; font-size: 0.9em; }
.verdict { border-left: 0.4em solid #888; background: #f6f6f6; padding: 0.6em 1em;
           margin: 0.8em 0 1em 0; }
.verdict p { margin: 0.3em 0; } .verdict .headline { font-size: 1.15em; font-weight: 600; }
.verdict.good { border-color: #2e7d32; background: #eef6ee; }
.verdict.bad { border-color: #c62828; background: #fbeeee; }
.verdict.flat { border-color: #b58900; background: #fbf6e6; }
.counts td:first-child { color: #555; }
"""


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _table(header, rows, numeric=(), css="") -> str:
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
    cls = f' class="{css}"' if css else ""
    thead = f"<thead><tr>{head}</tr></thead>" if any(str(h) for h in header) else ""
    return f"<table{cls}>{thead}<tbody>{''.join(body)}</tbody></table>"


def render_html(title: str, sections: list[tuple[str, str]]) -> str:
    """A complete HTML page.

    Parameters
    ----------
    title : str
        Page title (escaped).
    sections : list of (str, str)
        Heading (escaped; empty for none) and body (HTML, inserted as is) of each
        section.

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
        parts.append((f"<h2>{html.escape(heading)}</h2>\n" if heading else "") + body)
    parts.append("</body></html>\n")
    return "\n".join(parts)


# -- the verdict ----------------------------------------------------------------------
def _budget_text(budget, n_flagged: int) -> str:
    if isinstance(budget, str):
        return f"budget {budget} ({n_flagged} rows on the whole file)"
    if isinstance(budget, float):
        return f"budget {budget:g} ({budget:.1%} of the scored rows)"
    return f"budget {budget} rows"


def _verdict_section(verdict, method: str, n_flagged: int) -> str:
    if not isinstance(verdict, Verdict):
        text = verdict or "no verdict."
        return f'<div class="verdict"><p class="headline">{html.escape(text)}</p></div>'
    scores = verdict.at_budget()
    versus, random = verdict.change("untrimmed"), verdict.change("random")
    if versus == "down" or random == "down":
        tone = "bad"
    elif versus == "up":
        tone = "good"
    else:
        tone = "flat"
    budget = _budget_text(verdict.budget, n_flagged)
    parts = [
        f"untrimmed <b>{mean_std(scores['untrimmed'])}</b>",
        f"trimmed by {html.escape(method)} at {html.escape(budget)} "
        f"<b>{mean_std(scores['trimmed'])}</b>",
    ]
    if verdict.method != "random":
        parts.append(f"random trimming of as many rows <b>{mean_std(scores['random'])}</b>")
    diff = scores["trimmed"] - scores["untrimmed"]
    return (
        f'<div class="verdict {tone}">'
        f'<p class="headline">{html.escape(verdict.headline())}</p>'
        f"<p>Held-out {html.escape(verdict.metric)}, {verdict.n_folds}-fold cross-validation "
        f"(mean ± std over the folds): " + "; ".join(parts) + ".</p>"
        f'<p class="note">Each fold refits the whole pipeline on the other folds and scores '
        f"the held-out one. Change from trimming: {np.mean(diff):+.3f} on average over the "
        f"folds; a change counts when it exceeds {N_STDERR:g} standard errors of the "
        f"fold-by-fold differences.</p></div>"
    )


def _counts_section(table, status, flagged) -> str:
    n = len(table.raw)
    counts = {s: int(np.sum(status == s)) for s in ("kept", "validation", "no target")}
    cleaned = n - len(flagged)
    parts = [f"{counts['kept']} scored and kept"]
    if counts["validation"]:
        parts.append(f"{counts['validation']} validation rows (kept, not scored)")
    if counts["no target"]:
        parts.append(f"{counts['no target']} rows without a target (kept, not scored)")
    rows = [
        ("input rows", f"{n} = {len(flagged)} flagged + {cleaned} in the cleaned file"),
        ("flagged (removed)", len(flagged)),
        ("rows in the cleaned file", f"{cleaned} = " + " + ".join(parts)),
        ("feature columns used", f"{table.X.shape[1]}"),
        ("task", table.task + (f" ({', '.join(table.classes)})" if table.classes else "")),
    ]
    if table.excluded:
        rows.append(
            (
                "columns not used as features",
                "; ".join(f"{c} ({why})" for c, why in table.excluded.items())
                + " (kept in the cleaned file)",
            )
        )
    return _table(["", ""], rows, css="counts")


# -- the plots ------------------------------------------------------------------------
def _curve_figure(plt, verdict: Verdict, method: str, budget_is_share: bool):
    """Change of the held-out score against budget, fold by fold; the chosen budget marked.

    Each fold's scores are taken relative to that fold's untrimmed score (the
    differences the verdict tests), so the bands show the noise of the change, not
    how much harder one fold is than another.
    """
    x = [0.0, *verdict.x]
    zero = np.zeros((verdict.n_folds, 1))
    base = verdict.untrimmed[:, None]
    scores = {method: np.hstack([zero, verdict.trimmed - base])}
    if verdict.method != "random":
        scores["random"] = np.hstack([zero, verdict.random - base])
    fig, ax = plt.subplots(figsize=(5.3, 3.5), layout="constrained")
    name = f"change in held-out {verdict.metric}"
    display = TrimmingCurveDisplay(x, scores, score_name=name).plot(ax=ax)
    ax.axhline(0.0, color="0.5", linewidth=0.8)
    at = verdict.x[verdict.chosen]
    change = scores[method][:, 1 + verdict.chosen]
    std = np.std(change, ddof=1) if verdict.n_folds > 1 else 0.0
    color = display.lines_[method].get_color()
    ax.errorbar([at], [np.mean(change)], yerr=[std], fmt="none", ecolor=color, capsize=5, lw=1.5)
    ax.axvline(at, color="0.3", linestyle=":", linewidth=1)
    ax.annotate(
        f"chosen budget {verdict.budget}",
        (at, 0.0),
        xycoords=("data", "axes fraction"),
        xytext=(4, 4),
        textcoords="offset points",
        fontsize=8,
        color="0.25",
    )
    low, high = ax.get_ylim()
    span = max(high - low, 0.05)  # never magnify changes below 5 points of score
    middle = (high + low) / 2
    ax.set_ylim(middle - span / 2, middle + span / 2)
    ax.set_xlabel(
        "budget (share of the scored rows removed)"
        if budget_is_share
        else "rows removed from each fold's training part"
    )
    return fig


def _histogram_figure(plt, scores, flagged, method: str):
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    fig, ax = plt.subplots(figsize=(5.3, 3.5), layout="constrained")
    finite = np.isfinite(scores)
    kept = finite.copy()
    kept[flagged] = False
    bins = np.histogram_bin_edges(scores[finite], bins=40)
    ax.hist(scores[kept], bins=bins, color="tab:blue", label=f"kept ({int(kept.sum())})")
    ax.hist(scores[flagged], bins=bins, color="tab:red", label=f"flagged ({len(flagged)})")
    if len(flagged):
        ax.axvline(np.min(scores[flagged]), color="tab:red", linestyle=":", linewidth=1)
    ax.set_xlabel(f"{method} score (higher = more harmful)")
    ax.set_ylabel("rows (log scale)")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
    ax.legend(loc="upper right")
    return fig


def _figures(*, scores, flagged, method, verdict, curve, budget_is_share):
    """(caption, base64 PNG) pairs, and notes on what could not be drawn."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        return [], ["Plots need matplotlib: pip install 'skinfluence[plot]'."]
    figures, notes = [], []
    if curve and isinstance(verdict, Verdict):
        fig = _curve_figure(plt, verdict, method, budget_is_share)
        figures.append(
            (
                f"Change in held-out {verdict.metric} from trimming, against the budget "
                f"({verdict.n_folds}-fold cross-validation; each fold against its own "
                "untrimmed score, 0 = untrimmed): the lines are the means over the folds, "
                "the bands span the folds, the bar at the chosen budget is ± one standard "
                "deviation. Above the grey random band is the signal.",
                _png(fig),
            )
        )
        plt.close(fig)
    elif curve:
        notes.append("No trimming curve: it is drawn from the cross-validation (--cv).")
    fig = _histogram_figure(plt, scores, flagged, method)
    figures.append(
        (
            "Scores of the scored rows; the flagged ones in red, right of the dotted line.",
            _png(fig),
        )
    )
    plt.close(fig)
    return figures, notes


# -- the flagged rows -----------------------------------------------------------------
def _round_cell(text: str) -> str:
    """A cell's text, numbers rounded to :data:`DIGITS` significant digits."""
    stripped = text.strip()
    if not stripped or not any(ch in stripped for ch in ".eE"):
        return text
    try:
        value = float(stripped)
    except ValueError:
        return text
    if not np.isfinite(value):
        return text
    if abs(value) >= 10**DIGITS:
        return f"{value:.0f}"
    return f"{value:.{DIGITS}g}"


def _label_column(table, pipe, X, y, positions):
    """The label of each flagged row and the refitted model's probability for it."""
    if table.task != "classification":
        predicted = pipe.predict(X.iloc[positions])
        return (
            "target",
            "predicted",
            [f"{v:.{DIGITS}g}" for v in y[positions]],
            [f"{v:.{DIGITS}g}" for v in predicted],
        )
    labels = [table.classes[c] for c in y[positions]]
    if not hasattr(pipe, "predict_proba"):
        return "label", "P(label)", labels, [""] * len(positions)
    proba = pipe.predict_proba(X.iloc[positions])
    column = {c: j for j, c in enumerate(pipe.classes_)}  # a class trimmed away has none
    p = [
        f"{proba[i, column[c]]:.3f}" if c in column else "0.000" for i, c in enumerate(y[positions])
    ]
    return "label", "P(label)", labels, p


def _flagged_section(table, pipe, X, y, labeled, flagged, scores) -> str:
    if not len(flagged):
        return "<p>No row flagged (budget 0).</p>"
    shown = flagged[:MAX_TABLE_ROWS]
    positions = np.searchsorted(labeled, shown)
    label_name, proba_name, labels, probas = _label_column(table, pipe, X, y, positions)
    others = [c for c in table.raw.columns if c != table.target]
    rows = [
        [
            rank + 1,
            int(i),
            labels[rank],
            probas[rank],
            f"{scores[i]:.3g}",
            *(_round_cell(str(table.raw.at[i, c])) for c in others),
        ]
        for rank, i in enumerate(shown)
    ]
    header = ["rank", "row", f"{label_name} ({table.target})", proba_name, "score", *others]
    if table.task == "classification":
        explain = (
            "P(label) is the probability the cleaned model (refitted without the flagged "
            "rows) gives the row's label: a low one means the model disagrees with it."
        )
    else:
        explain = "predicted: the cleaned model's prediction (refitted without the flagged rows)."
    more = (
        f'<p class="note">The first {MAX_TABLE_ROWS} of {len(flagged)} flagged rows; '
        "the scores file lists every row.</p>"
        if len(flagged) > MAX_TABLE_ROWS
        else ""
    )
    return (
        f'<p class="note">row = position among the data rows of the input, from 0. {explain} '
        f"Numbers are rounded to {DIGITS} significant digits; the files keep them whole.</p>"
        f'<div class="scroll">{_table(header, rows, numeric={0, 1, 3, 4})}</div>{more}'
    )


def _folds_section(verdict: Verdict, method: str) -> str:
    header = ["budget", f"{method}: mean ± std", "random: mean ± std"]
    rows = [["0 (untrimmed)", mean_std(verdict.untrimmed), mean_std(verdict.untrimmed)]]
    for j, budget in enumerate(verdict.budgets):
        mark = " (chosen)" if j == verdict.chosen else ""
        rows.append(
            [
                f"{budget}{mark}",
                mean_std(verdict.trimmed[:, j]),
                mean_std(verdict.random[:, j]) if verdict.method != "random" else "",
            ]
        )
    per_fold = [
        [
            k + 1,
            f"{verdict.untrimmed[k]:.4f}",
            f"{verdict.trimmed[k, verdict.chosen]:.4f}",
            f"{verdict.random[k, verdict.chosen]:.4f}",
        ]
        for k in range(verdict.n_folds)
    ]
    return (
        _table(header, rows, numeric={1, 2})
        + f'<p class="note">Held-out {html.escape(verdict.metric)} on each fold at the chosen '
        f"budget {html.escape(str(verdict.budget))}:</p>"
        + _table(["fold", "untrimmed", method, "random"], per_fold, numeric={0, 1, 2, 3})
        + "".join(f'<p class="note">{html.escape(n)}</p>' for n in verdict.notes)
    )


def clean_report(
    *, table, pipe, X, y, labeled, flagged, scores, status, verdict, curve, settings
) -> str:
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
        Their targets (encoded).
    labeled : ndarray of int
        Input rows with a target (the rows of ``X``), increasing.
    flagged : ndarray of int
        Input rows flagged, most harmful first.
    scores : ndarray of shape (n_rows,)
        Score of every input row (``nan`` where not scored).
    status : ndarray of str
        Status of every input row.
    verdict : Verdict or str
        The cross-validated scores, or why there are none.
    curve : bool
        Whether to draw the trimming curve (from ``verdict``).
    settings : dict
        The options, shown as a table; ``"method"`` names the method.

    Returns
    -------
    page : str
        The HTML document.
    """
    method = str(settings["method"])
    budget = settings["budget"]
    sections = [
        ("", _verdict_section(verdict, method, len(flagged))),
        ("Rows", _counts_section(table, status, flagged)),
    ]
    figures, notes = _figures(
        scores=scores,
        flagged=flagged,
        method=method,
        verdict=verdict,
        curve=curve,
        budget_is_share=isinstance(budget, float),
    )
    body = "".join(
        f'<figure><img alt="{html.escape(c)}" src="data:image/png;base64,{png}">'
        f"<figcaption>{html.escape(c)}</figcaption></figure>"
        for c, png in figures
    )
    body += "".join(f'<p class="note">{html.escape(n)}</p>' for n in notes)
    sections.append(("Plots", body or '<p class="note">No plots.</p>'))
    sections.append(
        (
            f"Flagged rows ({len(flagged)}), most harmful first",
            _flagged_section(table, pipe, X, y, labeled, flagged, scores),
        )
    )
    if isinstance(verdict, Verdict):
        sections.append(("Cross-validated scores", _folds_section(verdict, method)))
    sections.append(("Settings", _table(["", ""], [("input file", table.path), *settings.items()])))
    return render_html(f"skinfluence clean: {table.path.name}", sections)
