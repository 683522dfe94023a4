"""The coverage rule of range syncs (pure), checked by example and by property against a
brute-force model over integer days."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawl_pipeline.domain.coverage import DateRange, covering_sync, covers

EPOCH = datetime(2024, 7, 1, tzinfo=UTC)
HORIZON = 60  # days of the brute-force model


def day(n: int | None) -> datetime | None:
    return None if n is None else EPOCH + timedelta(days=n)


def span(a: int | None, b: int | None) -> DateRange:
    return DateRange(day(a), day(b))


bounds = st.one_of(st.none(), st.integers(0, HORIZON))


@st.composite
def ranges(draw):
    a, b = draw(bounds), draw(bounds)
    if a is not None and b is not None and a > b:
        a, b = b, a
    return a, b


def days_of(a: int | None, b: int | None) -> set[int]:
    """The brute-force meaning: the days a range holds, open bounds reaching past the horizon."""
    lo = -1 if a is None else a
    hi = HORIZON + 1 if b is None else b
    return set(range(lo, hi + 1))


def test_examples():
    assert covers(span(10, 20), span(10, 20))
    assert covers(span(10, 20), span(12, 18))
    assert not covers(span(10, 20), span(9, 18))
    assert not covers(span(10, 20), span(12, 21))
    assert covers(span(None, 20), span(0, 5))
    assert covers(span(10, None), span(15, 40))
    assert covers(span(None, None), span(None, None))
    assert not covers(span(10, 20), span(None, 15))  # "everything before 15" is not covered from day 10
    assert not covers(span(10, 20), span(15, None))  # "everything after 15" is not covered up to day 20
    assert not covers(span(None, 20), span(None, None))


def test_reversed_range_is_rejected():
    with pytest.raises(ValueError):
        span(20, 10)


@given(ranges(), ranges())
def test_covers_means_containment(synced, requested):
    assert covers(span(*synced), span(*requested)) == (days_of(*requested) <= days_of(*synced))


@given(ranges())
def test_a_range_covers_itself_and_open_covers_everything(r):
    assert covers(span(*r), span(*r))
    assert covers(span(None, None), span(*r))


@given(ranges(), ranges(), ranges())
def test_transitive(a, b, c):
    if covers(span(*a), span(*b)) and covers(span(*b), span(*c)):
        assert covers(span(*a), span(*c))


@given(ranges(), ranges(), st.integers(0, 10), st.integers(0, 10))
def test_narrowing_the_request_keeps_it_covered(synced, requested, shrink_low, shrink_high):
    a, b = requested
    narrower = (None if a is None else a + shrink_low, None if b is None else b - shrink_high)
    if narrower[0] is not None and narrower[1] is not None and narrower[0] > narrower[1]:
        return
    if covers(span(*synced), span(*requested)):
        assert covers(span(*synced), span(*narrower))


@given(st.lists(ranges(), max_size=6), ranges())
def test_covering_sync_finds_one_exactly_when_one_covers(syncs, requested):
    rows = [{"id": i, "date_after": day(a), "date_before": day(b)} for i, (a, b) in enumerate(syncs)]
    found = covering_sync(rows, span(*requested))
    expected = [r for r, s in zip(rows, syncs, strict=True) if days_of(*s) >= days_of(*requested)]
    assert (found is not None) == bool(expected)
    if found is not None:
        assert found is expected[0]


def test_covering_sync_accepts_objects_and_ranges():
    assert covering_sync([span(0, 30)], span(5, 6)) == span(0, 30)

    class Row:
        date_after, date_before = day(0), None

    row = Row()
    assert covering_sync([span(10, 20), row], span(5, 40)) is row
    assert covering_sync([], span(5, 6)) is None
