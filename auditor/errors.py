"""Domain errors.

Every failure a user can cause is one of these; the CLI turns them into one clear line and a
non-zero exit. Messages never carry a pupil's, parent's or contact's name: they name files,
rows, references and fields instead.
"""

from __future__ import annotations


class AuditorError(Exception):
    """Base class: a problem the user can act on, shown as one line."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class InputError(AuditorError):
    """A file or argument the tool cannot use (unreadable, wrong format, refused)."""

    exit_code = 2


class ArchiveRefused(InputError):
    """An archive refused for safety: traversal, bomb, encryption, too many members."""


class ConfigError(AuditorError):
    """Configuration or policy problems; carries every problem found, not only the first."""

    exit_code = 2

    def __init__(self, problems: list[str] | str, *, source: str | None = None) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        where = f"{source}: " if source else ""
        if len(self.problems) == 1:
            text = f"{where}{self.problems[0]}"
        else:
            text = f"{where}{len(self.problems)} problems: " + "; ".join(self.problems)
        super().__init__(text)


class NotFound(AuditorError):
    """A reference (staff, person, finding, audit) that the database does not hold."""

    exit_code = 3


class DatabaseError(AuditorError):
    """The database cannot be opened, is not initialised, or is from a newer version."""

    exit_code = 4


class NetworkError(AuditorError):
    """An API command could not complete (timeouts, refusals, malformed answers)."""

    exit_code = 5


class ExpiredError(AuditorError):
    """A self-check kit past its expiry date."""

    exit_code = 6
