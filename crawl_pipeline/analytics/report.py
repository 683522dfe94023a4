"""A self-contained HTML report (leaderboards + plots) from the analytics DuckDB file.

Plots are rendered by matplotlib (Agg backend) to PNG and embedded as base64 data URIs, so
the file opens anywhere without a network or a server.
"""

from __future__ import annotations

import base64
import html
import io
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from crawl_pipeline.analytics.duckdb_export import open_analytics, temporary_path


@dataclass(frozen=True)
class ReportResult:
    path: Path
    plots: int
    tables: int
    bytes: int
    accounts: int
    matches: int


def _rows(duck: duckdb.DuckDBPyConnection, query: str) -> tuple[list[str], list[tuple]]:
    result = duck.execute(query)
    columns = [d[0] for d in result.description]
    return columns, result.fetchall()


ID_COLUMNS = {"leader", "account", "player_slot"}  # besides every column named *_id


def is_id_column(column: str | None) -> bool:
    return column is not None and (column == "id" or column.endswith("_id") or column in ID_COLUMNS)


def _fmt(value, column: str | None = None) -> str:
    """A cell: ids (account, match, hero ids) plain whatever their size; counts of 10,000 and more
    with thousands separators; floats rounded; times to the minute."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}" if value < 10 else f"{value:,.1f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, int) and not isinstance(value, bool) and not is_id_column(column) and abs(value) >= 10000:
        return f"{value:,}"
    return str(value)


def html_table(columns: list[str], rows: list[tuple]) -> str:
    if not rows:
        return "<p class='empty'>No rows yet.</p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(v, c))}</td>" for c, v in zip(columns, row, strict=True)) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _plots(duck: duckdb.DuckDBPyConnection, min_games: int) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plots: list[tuple[str, str]] = []

    _, heroes = _rows(
        duck,
        """SELECT h.localized_name, sum(s.matches) AS games FROM hero_stats s JOIN heroes h USING (hero_id)
           GROUP BY 1 ORDER BY games DESC, 1 LIMIT 15""",
    )
    if heroes:
        fig, ax = plt.subplots(figsize=(8, 4.5))
        names = [r[0] for r in heroes][::-1]
        ax.barh(names, [r[1] for r in heroes][::-1], color="#3b6ea5")
        ax.set_xlabel("matches (hero_stats, all crawled accounts)")
        ax.set_title("Most played heroes")
        plots.append(("Most played heroes", _png(fig)))
        plt.close(fig)

    _, rates = _rows(
        duck,
        f"""SELECT sum(wins)::DOUBLE / sum(matches) FROM hero_stats GROUP BY account_id
            HAVING sum(matches) >= {int(min_games)}""",
    )
    if rates:
        fig, ax = plt.subplots(figsize=(8, 4))
        ax.hist([r[0] for r in rates], bins=30, color="#a53b3b")
        ax.set_xlabel(f"win rate (accounts with at least {min_games} matches)")
        ax.set_ylabel("accounts")
        ax.set_title("Win-rate distribution")
        plots.append(("Win-rate distribution", _png(fig)))
        plt.close(fig)

    _, days = _rows(
        duck,
        """SELECT date_trunc('day', start_time) AS day, count(*) FILTER (WHERE match_type = 'ranked') AS ranked,
                  count(*) FILTER (WHERE match_type = 'normal') AS normal, count(*) AS all_matches
           FROM v_matches WHERE start_time IS NOT NULL GROUP BY 1 ORDER BY 1""",
    )
    if days:
        fig, ax = plt.subplots(figsize=(8, 4))
        x = [r[0] for r in days]
        for index, label in ((3, "all"), (1, "ranked"), (2, "normal")):
            ax.plot(x, [r[index] for r in days], label=label)
        ax.legend()
        ax.set_ylabel("matches")
        ax.set_title("Crawled matches per day")
        fig.autofmt_xdate()
        plots.append(("Crawled matches per day", _png(fig)))
        plt.close(fig)
    return plots


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 1100px; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.6rem; text-align: right; }
th { background: #f0f0f0; } td:nth-child(2) { text-align: left; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 1rem; }
img { max-width: 100%; } .empty { color: #888; }
"""


def render_report(duck: duckdb.DuckDBPyConnection, *, min_games: int = 100, hero_rows: int = 10) -> tuple[str, int, int]:
    """The report as one HTML string; returns (html, plots, tables)."""
    exported_at, snapshot = duck.execute("SELECT max(exported_at), max(pg_snapshot) FROM export_manifest").fetchall()[0]
    _, counts = _rows(duck, "SELECT table_name, pg_rows FROM export_manifest ORDER BY table_name")
    sections: list[tuple[str, str]] = []
    sections.append(("Tables", html_table(["table", "rows"], counts)))
    board_query = """SELECT position AS "#", coalesce(personaname, '') AS player, account_id, matches, wins,
                            round(win_rate, 3) AS win_rate
                     FROM v_leaderboard_top WHERE board = '{board}' AND hero_id = 0 ORDER BY position LIMIT 10"""
    sections.append(("Most matches (all heroes)", html_table(*_rows(duck, board_query.format(board="most_matches")))))
    min_used = duck.execute(
        "SELECT max(min_games) FROM leaderboards WHERE board = 'best_win_rate' AND hero_id = 0"
    ).fetchall()[0][0]
    sections.append(
        (
            f"Best win rate (all heroes, at least {min_used if min_used is not None else min_games} matches)",
            html_table(*_rows(duck, board_query.format(board="best_win_rate"))),
        )
    )
    sections.append(
        (
            "Hero top 100: leaders",
            html_table(
                *_rows(
                    duck,
                    f"""SELECT hero, account_id AS leader, coalesce(personaname, '') AS player, matches, wins,
                               round(win_rate, 3) AS win_rate,
                               (SELECT count(*) FROM hero_top100 t WHERE t.hero_id = v.hero_id) AS ranked_accounts
                        FROM v_hero_top100 v WHERE position = 1 ORDER BY matches DESC, hero LIMIT {int(hero_rows)}""",
                )
            ),
        )
    )
    sections.append(
        (
            "Ranked vs normal (player_match_type_stats)",
            html_table(
                *_rows(
                    duck,
                    """SELECT match_type, count(DISTINCT account_id) AS players, sum(games) AS games,
                              round(sum(wins) / sum(games), 3) AS win_rate,
                              round(sum(kills + assists) / greatest(sum(deaths), 1), 2) AS kda,
                              round(sum(gold_per_min_sum) / sum(games), 1) AS avg_gpm
                       FROM player_match_type_stats GROUP BY 1 ORDER BY 1""",
                )
            ),
        )
    )
    plots = _plots(duck, min_games)
    accounts = duck.execute("SELECT count(*) FROM accounts").fetchall()[0][0]
    matches = duck.execute("SELECT count(*) FROM matches").fetchall()[0][0]
    body = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>crawl_pipeline report</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>crawl_pipeline analytics report</h1>",
        (f"<p>{accounts:,} accounts, {matches:,} matches. Data exported {html.escape(_fmt(exported_at))} UTC "
        f"(PostgreSQL snapshot {html.escape(str(snapshot))}); report written "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC.</p>"),
    ]
    for title, content in sections:
        body.append(f"<h2>{html.escape(title)}</h2>\n{content}")
    body.append("<h2>Plots</h2><div class='grid'>")
    for title, uri in plots:
        body.append(f"<figure><img alt='{html.escape(title)}' src='{uri}'><figcaption>{html.escape(title)}</figcaption></figure>")
    if not plots:
        body.append("<p class='empty'>No data to plot yet.</p>")
    body.append("</div></body></html>")
    return "\n".join(body), len(plots), len(sections)


def write_report(duckdb_path: Path, output: Path, *, min_games: int = 100) -> ReportResult:
    """Render the report from the DuckDB file and write it atomically to ``output``."""
    output = Path(output).absolute()
    output.parent.mkdir(parents=True, exist_ok=True)
    with open_analytics(duckdb_path) as duck:
        page, plots, tables = render_report(duck, min_games=min_games)
        accounts = duck.execute("SELECT count(*) FROM accounts").fetchall()[0][0]
        matches = duck.execute("SELECT count(*) FROM matches").fetchall()[0][0]
    tmp = temporary_path(output)
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, output)
    finally:
        if tmp.exists():
            tmp.unlink()
    return ReportResult(output, plots, tables, output.stat().st_size, accounts, matches)
