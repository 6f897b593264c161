"""Ages and pupil status at the audit date. The date is always passed in; nothing here reads
the clock, so an audit re-run for the same date gives the same answer.

Whole years are counted with python-dateutil's ``relativedelta``, with one correction:
dateutil counts 28 February as the birthday of someone born on 29 February in a common year,
while in England a person attains an age at the start of the anniversary of their birth
(Family Law Reform Act 1969, s.9), which for a 29 February birth in a common year is taken to
be 1 March. So a pupil born on 29 February 2008 is still 17 on 28 February 2026 and turns 18
on 1 March 2026; in a leap year the birthday is 29 February itself.
"""

from __future__ import annotations

from calendar import isleap
from datetime import date

from dateutil.relativedelta import relativedelta


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
    years = relativedelta(as_of, date_of_birth).years
    if (date_of_birth.month, date_of_birth.day) == (2, 29) and (as_of.month, as_of.day) == (2, 28) \
            and not isleap(as_of.year):
        years -= 1  # dateutil's anniversary is 28 February; England's is 1 March
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
