import pytest

from crawl_pipeline.db import urls


def test_describe_names_host_and_database_never_the_password():
    text = urls.describe("postgresql://crawler:s3cret@db.internal:6543/crawl")
    assert text == "db.internal:6543/crawl"
    assert "s3cret" not in urls.describe("host=db.internal password=s3cret dbname=crawl")


def test_sqlalchemy_url_says_psycopg2_for_tcp_and_unix_sockets():
    assert (
        urls.to_sqlalchemy("postgresql://crawler:p%40ss@db:5433/dagster")
        == "postgresql+psycopg2://crawler:p%40ss@db:5433/dagster"
    )
    assert (
        urls.to_sqlalchemy("postgresql://postgres:@/dagster?host=/work/data/pg")
        == "postgresql+psycopg2://postgres:@/dagster?host=/work/data/pg"
    )


def test_with_database_keeps_server_and_credentials():
    sibling = urls.parse(urls.with_database("postgresql://u:pw@h:5433/crawl?sslmode=disable", "dagster"))
    assert sibling == {"user": "u", "password": "pw", "host": "h", "port": "5433", "dbname": "dagster", "sslmode": "disable"}


def test_invalid_url_error_does_not_echo_it():
    with pytest.raises(urls.InvalidDatabaseURL) as excinfo:
        urls.parse("postgresql://u:topsecret@h:notaport/db?bogus_option=1")
    assert "topsecret" not in str(excinfo.value)
