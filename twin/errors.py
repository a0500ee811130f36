"""The one base class for bad input: a user-facing error whose message is one line."""


class InputError(Exception):
    """Bad input (a file, a scene field, a setting): the message names it and the cause."""


class NotFound(InputError, KeyError):
    """A record asked for by id that is not there (an alarm, a work order)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
