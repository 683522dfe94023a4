"""PostgreSQL connection URLs: describe them without secrets, derive sibling databases.

Accepted forms are libpq URIs (``postgresql://user:pw@host:5432/db``, unix sockets as
``postgresql://postgres:@/db?host=/path``) and ``key=value`` strings.
"""

from __future__ import annotations

from urllib.parse import quote

from psycopg.conninfo import conninfo_to_dict, make_conninfo


class InvalidDatabaseURL(ValueError):
    pass


def to_libpq(url: str) -> str:
    """Drop a SQLAlchemy driver suffix (postgresql+psycopg2://): it means nothing to libpq."""
    if "://" in url:
        scheme, rest = url.split("://", 1)
        return scheme.split("+", 1)[0] + "://" + rest
    return url


def parse(url: str) -> dict[str, str]:
    url = to_libpq(url)
    try:
        return {k: str(v) for k, v in conninfo_to_dict(url).items()}
    except Exception as exc:
        raise InvalidDatabaseURL(f"DATABASE_URL is not a valid PostgreSQL URL ({type(exc).__name__})") from None


def validate(url: str, variable: str = "DATABASE_URL") -> dict[str, str]:
    """The parsed URL, or ``InvalidDatabaseURL`` naming ``variable`` (never the URL: it may hold a password).

    A URL must be ``postgresql://`` or ``postgres://`` (a SQLAlchemy ``+driver`` suffix allowed) or a
    libpq ``key=value`` string; libpq would take ``garbage://x`` for a host name.
    """
    if "://" in url:
        scheme = url.split("://", 1)[0].split("+", 1)[0].lower()
        if scheme not in ("postgresql", "postgres"):
            raise InvalidDatabaseURL(
                f"{variable} must start with postgresql:// (or be libpq key=value pairs); "
                f"it starts with {scheme[:20]!r}://"
            )
    elif "=" not in url:
        raise InvalidDatabaseURL(f"{variable} is neither a postgresql:// URL nor libpq key=value pairs")
    try:
        return parse(url)
    except InvalidDatabaseURL:
        raise InvalidDatabaseURL(f"{variable} is not a valid PostgreSQL URL") from None


def describe(url: str) -> str:
    """``host:port/database`` for messages and logs: never the password."""
    try:
        parts = parse(url)
    except InvalidDatabaseURL:
        return "<invalid URL>"
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    return f"{host}:{port}/{parts.get('dbname') or parts.get('user') or 'postgres'}"


def database_name(url: str) -> str:
    parts = parse(url)
    return parts.get("dbname") or parts.get("user") or "postgres"


def with_database(url: str, dbname: str) -> str:
    """The same server and credentials, another database (libpq key=value form)."""
    return make_conninfo(make_conninfo(**parse(url)), dbname=dbname)


def to_sqlalchemy(url: str, driver: str = "psycopg2") -> str:
    """A ``postgresql+<driver>://`` URL for SQLAlchemy users such as dagster-postgres.

    With SQLAlchemy 2.1 and psycopg 3 installed, a plain ``postgresql://`` URL makes
    dagster-postgres fail on ``NOTIFY run_events, $1``: it must say psycopg2.
    """
    parts = parse(url)
    user = quote(parts.pop("user", "postgres"), safe="")
    password = parts.pop("password", None)
    auth = f"{user}:{quote(password, safe='')}" if password else f"{user}:"
    dbname = quote(parts.pop("dbname", "postgres"), safe="")
    host = parts.pop("host", "")
    port = parts.pop("port", "")
    netloc = "" if host.startswith("/") or not host else host + (f":{port}" if port else "")
    query = dict(parts.items())
    if host.startswith("/"):
        query["host"] = host
        if port:
            query["port"] = port
    qs = "&".join(f"{k}={quote(v, safe='/')}" for k, v in sorted(query.items()))
    return f"postgresql+{driver}://{auth}@{netloc}/{dbname}" + (f"?{qs}" if qs else "")
