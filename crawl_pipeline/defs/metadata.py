"""Materialization metadata helpers shared by every subject."""

from collections.abc import Iterable, Sequence


def markdown_table(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    """A Markdown table for ``MetadataValue.md`` previews: floats to 3 places, None blank, pipes escaped."""

    def cell(value) -> str:
        if value is None:
            return ""
        text = f"{value:.3f}" if isinstance(value, float) else str(value)
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
