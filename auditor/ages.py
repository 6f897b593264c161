"""Ages at the audit date. The date is always passed in; nothing here reads the clock."""

from __future__ import annotations

from datetime import date


def age_on(date_of_birth: date | None, as_of: date) -> int | None:
    """Whole years completed on ``as_of``: a pupil who turns 19 on the audit date is 19.

    Someone born on 29 February completes a year on 1 March in common years, as English law
    reckons it (the day before 1 March is still the day before the birthday).

    >>> age_on(date(2007, 11, 1), date(2026, 11, 1))
    19
    >>> age_on(date(2008, 2, 29), date(2026, 2, 28)), age_on(date(2008, 2, 29), date(2026, 3, 1))
    (17, 18)
    """
    if date_of_birth is None:
        return None
    before_birthday = (as_of.month, as_of.day) < (date_of_birth.month, date_of_birth.day)
    return as_of.year - date_of_birth.year - int(before_birthday)
