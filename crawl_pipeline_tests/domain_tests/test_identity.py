import pytest

from crawl_pipeline.domain.identity import ANONYMOUS_ACCOUNT_ID, is_anonymous, parse_account_id, to_steamid64


def test_steamid64_round_trip():
    assert to_steamid64(293053907) == 76561198253319635
    assert parse_account_id("76561198253319635") == 293053907
    assert parse_account_id(" 293053907 ") == 293053907


@pytest.mark.parametrize("bad", ["abc", "-5", "0", str(ANONYMOUS_ACCOUNT_ID), "12.5"])
def test_invalid_account_ids_say_why(bad):
    with pytest.raises(ValueError, match="invalid account id"):
        parse_account_id(bad)


def test_anonymous_players():
    assert is_anonymous(None) and is_anonymous(ANONYMOUS_ACCOUNT_ID)
    assert not is_anonymous(293053907)
