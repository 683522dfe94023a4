"""The one way a value that cannot be a parameter enters DuckDB SQL.

Values are bound as parameters (``execute(sql, [value])``) or passed to the relational API
(``relation.write_parquet(path)``), never pasted into SQL. What DuckDB cannot take as a parameter
(a path in ``ATTACH``, a table or view name) goes through ``sql_quote``, which quotes it whole: an
apostrophe, a backslash, a newline or any unicode stays part of the value, and a NUL byte (which no
path or name may hold) is refused.
"""

from __future__ import annotations

from os import PathLike


def sql_quote(value: str | PathLike[str], *, identifier: bool = False) -> str:
    """``value`` as a DuckDB string literal (quotes doubled: it's -> 'it''s'), or with ``identifier``
    as a quoted identifier (double quotes doubled). DuckDB's standard strings treat backslashes literally."""
    text = str(value)
    if "\x00" in text:
        raise ValueError(f"a NUL byte cannot be part of a DuckDB {'identifier' if identifier else 'string'}: {text!r}")
    quote = '"' if identifier else "'"
    return quote + text.replace(quote, quote * 2) + quote
