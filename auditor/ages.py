"""Ages and pupil status at the audit date. The date is always passed in; nothing here reads
the clock, so an audit re-run for the same date gives the same answer.

Whole years are counted by comparing the (month, day) of the audit date with that of the
birth: in England a person attains an age at the start of the anniversary of their birth
(Family Law Reform Act 1969, s.9), which for a 29 February birth in a common year is taken to
be 1 March (python-dateutil's ``relativedelta`` would say 28 February). So a pupil born on
29 February 2008 is still 17 on 28 February 2026 and turns 18 on 1 March 2026; in a leap year
the birthday is 29 February itself. (Plain arithmetic, too: an audit works out tens of
thousands of ages.)
"""

from __future__ import annotations

from datetime import date


def age_on(date_of_birth: date | None, as_of: date) -> int | None:
    """Whole years completed on ``as_of`` (None without a date of birth, or one after ``as_of``).

    A pupil who turns 19 on the audit date is 19 on that date.

    >>> age_on(date(2007, 11, 1), date(2026, 11, 1)), age_on(date(2007, 11, 1), date(2026, 10, 31))
    (19, 18)
    >>> age_on(date(2008, 2, 29), date(2026, 2, 28)), age_on(date(2008, 2, 29), date(2026, 3, 1))
    (17, 18)
    """
    if date_of_birth is None or date_of_birth > as_of:
        return None
    years = as_of.year - date_of_birth.year
    if (as_of.month, as_of.day) < (date_of_birth.month, date_of_birth.day):
        years -= 1  # the birthday is still to come this year (29 February: until 1 March)
    return years


def is_under(date_of_birth: date | None, as_of: date, years: int) -> bool | None:
    """Whether someone is younger than ``years`` on ``as_of``; None when the age is unknown."""
    age = age_on(date_of_birth, as_of)
    return None if age is None else age < years


def pupil_status(start_date: date | None, end_date: date | None, as_of: date) -> str:
    """``pupil`` on roll on ``as_of``; ``past_pupil`` from the leaving date on; ``future_pupil``
    before the admission date. Matches how the audit reads a pupil role."""
    if end_date is not None and end_date <= as_of:
        return "past_pupil"
    if start_date is not None and start_date > as_of:
        return "future_pupil"
    return "pupil"


def past_pupil_in_scope(date_of_birth: date | None, end_date: date | None, as_of: date,
                        age_below: int | None) -> bool:
    """A past pupil a ``past_pupil`` rule with ``age_below`` covers on ``as_of``: left, and
    under the threshold. Without a date of birth they stay in scope (the DSL checks the age)."""
    if end_date is None or end_date > as_of:
        return False
    if age_below is None:
        return True
    under = is_under(date_of_birth, as_of, age_below)
    return True if under is None else under
