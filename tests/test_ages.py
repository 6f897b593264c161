"""Ages at the audit date: the past-pupil threshold turns on them, so the edges are tested
day by day (the day before, on and after the 18th and 19th birthdays, 29 February births)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given
from hypothesis import strategies as st

from auditor.ages import age_on, is_under, past_pupil_in_scope, pupil_status

BORN = date(2007, 11, 1)


@pytest.mark.parametrize("birthday, age", [(18, 18), (19, 19)])
def test_birthday_edges(birthday: int, age: int) -> None:
    day = date(BORN.year + birthday, BORN.month, BORN.day)
    assert age_on(BORN, day - timedelta(days=1)) == age - 1
    assert age_on(BORN, day) == age
    assert age_on(BORN, day + timedelta(days=1)) == age


@pytest.mark.parametrize("as_of, expected", [
    (date(2025, 2, 28), 16), (date(2025, 3, 1), 17),   # common year: the birthday is 1 March
    (date(2026, 2, 28), 17), (date(2026, 3, 1), 18),   # 18th birthday
    (date(2027, 2, 28), 18), (date(2027, 3, 1), 19),   # 19th birthday
    (date(2028, 2, 28), 19), (date(2028, 2, 29), 20),  # leap year: the birthday is 29 February
])
def test_born_on_29_february(as_of: date, expected: int) -> None:
    assert age_on(date(2008, 2, 29), as_of) == expected


def test_29_february_differs_from_dateutil_only_on_28_february_of_common_years() -> None:
    born = date(2008, 2, 29)
    assert relativedelta(date(2026, 2, 28), born).years == 18  # dateutil's reading
    assert age_on(born, date(2026, 2, 28)) == 17  # the English one


@given(st.dates(min_value=date(1950, 1, 1), max_value=date(2030, 12, 31)),
       st.dates(min_value=date(1950, 1, 1), max_value=date(2060, 12, 31)))
def test_agrees_with_dateutil_everywhere_else(born: date, as_of: date) -> None:
    if as_of < born:
        assert age_on(born, as_of) is None
        return
    expected = relativedelta(as_of, born).years
    if (born.month, born.day) == (2, 29) and (as_of.month, as_of.day) == (2, 28):
        expected = as_of.year - born.year - 1
    assert age_on(born, as_of) == expected


def test_unknown_or_impossible_date_of_birth_gives_no_age() -> None:
    assert age_on(None, date(2026, 11, 1)) is None
    assert age_on(date(2027, 1, 1), date(2026, 11, 1)) is None
    assert is_under(None, date(2026, 11, 1), 19) is None


def test_under_threshold_turns_on_the_birthday() -> None:
    nineteenth = date(2026, 11, 1)
    assert is_under(BORN, nineteenth - timedelta(days=1), 19) is True
    assert is_under(BORN, nineteenth, 19) is False


def test_pupil_status_around_admission_and_leaving() -> None:
    start, end = date(2020, 9, 3), date(2025, 7, 20)
    assert pupil_status(start, end, date(2020, 9, 2)) == "future_pupil"
    assert pupil_status(start, end, start) == "pupil"
    assert pupil_status(start, end, end - timedelta(days=1)) == "pupil"
    assert pupil_status(start, end, end) == "past_pupil"
    assert pupil_status(start, None, date(2040, 1, 1)) == "pupil"


@pytest.mark.parametrize("as_of, in_scope", [
    (date(2026, 10, 31), True),   # the day before the 19th birthday
    (date(2026, 11, 1), False),   # the 19th birthday
    (date(2026, 11, 2), False),
])
def test_past_pupil_under_19(as_of: date, in_scope: bool) -> None:
    assert past_pupil_in_scope(BORN, date(2024, 7, 19), as_of, 19) is in_scope


def test_past_pupil_rules_edge_cases() -> None:
    left = date(2024, 7, 19)
    assert past_pupil_in_scope(None, left, date(2030, 1, 1), 19) is True  # age unknown: DSL checks
    assert past_pupil_in_scope(BORN, None, date(2025, 1, 1), 19) is False  # still on roll
    assert past_pupil_in_scope(BORN, left, date(2040, 1, 1), None) is True  # no threshold
