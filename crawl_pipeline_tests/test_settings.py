from pathlib import Path

import pytest

from crawl_pipeline.defs.providers import ProvidersResource
from crawl_pipeline.settings import DEFAULT_OPENDOTA_API_URL, Secret, Settings, SettingsError


def test_defaults_point_at_real_providers_and_embedded_database():
    settings = Settings.from_env({})
    assert settings.embedded
    assert settings.opendota_api_url == DEFAULT_OPENDOTA_API_URL
    assert settings.steam_api_url == "https://api.steampowered.com"
    assert settings.stratz_api_url == "https://api.stratz.com"
    assert settings.data_dir == Path("data").absolute()
    assert settings.duckdb_path == Path("data/analytics.duckdb").absolute()
    assert settings.dagster_home == Path("data/dagster_home").absolute()
    assert settings.pgdata_dir == Path("data/pg").absolute()


def test_environment_overrides(tmp_path):
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://u:pw@db.example:5433/crawl",
            "CRAWL_DATA_DIR": str(tmp_path),
            "OPENDOTA_API_URL": "http://127.0.0.1:8765/",
            "STRATZ_TOKENS": " a.jwt.token , ,b.jwt.token",
            "CRAWL_DB_POOL_SIZE": "3",
        }
    )
    assert not settings.embedded
    assert settings.duckdb_path == tmp_path / "analytics.duckdb"
    assert settings.opendota_api_url == "http://127.0.0.1:8765"
    assert [t.reveal() for t in settings.stratz_tokens] == ["a.jwt.token", "b.jwt.token"]
    assert settings.db_pool_max_size == 3


def test_secrets_never_show_in_reprs():
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://u:hunter2@db/crawl",
            "STEAM_API_KEY": "STEAMKEY123456789",
            "OPENDOTA_API_KEY": "0d0d0d0d-abcd-4bcd-9bcd-0123456789ab",
            "STRATZ_TOKENS": "stratz.token.xyz",
        }
    )
    text = repr(settings) + str(settings)
    for secret in ("hunter2", "STEAMKEY123456789", "0d0d0d0d-abcd-4bcd-9bcd-0123456789ab", "stratz.token.xyz"):
        assert secret not in text
    assert settings.steam_api_key.reveal() == "STEAMKEY123456789"
    assert repr(Secret("x")) == "Secret('***')"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CRAWL_DB_POOL_SIZE": "many"}, "CRAWL_DB_POOL_SIZE='many' is not an integer"),
        ({"CRAWL_DB_POOL_SIZE": "0"}, "CRAWL_DB_POOL_SIZE=0 must be at least 1"),
        ({"STEAM_API_URL": "api.steampowered.com"}, "STEAM_API_URL must start with http:// or https://"),
        ({"OPENDOTA_API_KEY": "my-opendota-key"}, "OPENDOTA_API_KEY is not a valid OpenDota key: keys are UUIDs"),
        # a token cut short in copying: Stratz would answer 500, which reads as an outage
        ({"STRATZ_TOKENS": "eyJhbGciOiJIUzI1NiJ9.c2lt, a.b.c"}, "STRATZ_TOKENS holds a token that is not a Stratz token: tokens are JWTs"),
        ({"STRATZ_RATE_LIMIT": "20/sec"}, "STRATZ_RATE_LIMIT: '20/sec' is not a rate like 60/minute"),
        ({"OPENDOTA_TIER": "gold"}, "OPENDOTA_TIER='gold': choose one of auto, free, premium"),
    ],
)
def test_bad_values_name_the_variable(env, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_env(env)


def test_a_bad_stratz_token_is_not_shown():
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"STRATZ_TOKENS": "a.b.c,eyJhbGciOiJIUzI1NiJ9-secretpart"})
    assert "secretpart" not in str(info.value)
    with pytest.raises(SettingsError, match=r"ProvidersResource\.stratz_tokens holds a token"):
        ProvidersResource(stratz_tokens="not-a-jwt").sources_config()


def test_rate_tiers_and_switches_from_the_environment():
    settings = Settings.from_env(
        {"STRATZ_RATE_LIMIT": "10/second, 200/minute, 5000/day", "OPENDOTA_TIER": "free", "STEAM_MATCH_DETAILS": "1"}
    )
    assert settings.rate_limits == {"stratz": {"per_second": 10, "per_minute": 200, "per_day": 5000}}
    assert settings.opendota_tier == "free" and settings.steam_match_details
    assert Settings.from_env({}).rate_limits == {} and not Settings.from_env({}).steam_match_details


SECRET_IN_URL = "hunter2secret"


@pytest.mark.parametrize(
    ("variable", "value", "wrong"),
    [
        ("OPENDOTA_API_URL", f"me:{SECRET_IN_URL}@api.opendota.com", "must not contain credentials"),  # no scheme
        ("OPENDOTA_API_URL", f"https://me:{SECRET_IN_URL}@api.opendota.com", "must not contain credentials"),
        ("STEAM_API_URL", f"api.steampowered.com/?key={SECRET_IN_URL}", "must not have a query string"),  # no scheme
        ("OPENDOTA_API_URL", f"http://127.0.0.1:18765/?api_key={SECRET_IN_URL}", "must not have a query string"),
        ("STRATZ_API_URL", f"https://api.stratz.com/#{SECRET_IN_URL}", "must not have a fragment"),
        ("STEAM_API_URL", f"api.steampowered.com/{SECRET_IN_URL}", "must start with http:// or https://"),
        ("STEAM_API_URL", f"ftp://{SECRET_IN_URL}.example", "must start with http:// or https://"),
        ("STEAM_API_URL", f"http://{SECRET_IN_URL}.example:99999", "port that is not a number from 1 to 65535"),
        ("STEAM_API_URL", f"http://{SECRET_IN_URL}.example:0", "port that is not a number from 1 to 65535"),
        ("STEAM_API_URL", f"http://{SECRET_IN_URL}.example:80a", "port that is not a number from 1 to 65535"),
        ("STEAM_API_URL", f"http://[{SECRET_IN_URL}", "is not a valid URL"),
    ],
)
def test_a_bad_provider_url_names_the_variable_and_what_is_wrong_never_its_value(variable, value, wrong):
    """The value may hold a key (a query, user:password@): the message names the variable only. A
    query or fragment is refused too: httpx would log it with every request."""
    from crawl_pipeline.settings import check_provider_url

    with pytest.raises(SettingsError) as refused:
        Settings.from_env({variable: value})
    message = str(refused.value)
    assert message.startswith(f"{variable} ") and wrong in message
    assert SECRET_IN_URL not in message and value not in message
    with pytest.raises(SettingsError) as again:  # the rule for URLs from resources (ProviderConfig)
        check_provider_url(variable.lower(), value)
    assert wrong in str(again.value) and SECRET_IN_URL not in str(again.value)


@pytest.mark.parametrize("value", ["http://127.0.0.1:8765", "https://api.opendota.com/", "http://[::1]:65535/sub/path"])
def test_a_provider_url_with_a_port_and_path_is_kept(value):
    assert Settings.from_env({"OPENDOTA_API_URL": value}).opendota_api_url == value.rstrip("/")
