"""PostgreSQL: URLs, the embedded server, migrations and the connection pool."""
