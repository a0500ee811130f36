"""The one base class for bad input: a user-facing error whose message is one line."""


class InputError(Exception):
    """Bad input (a file, a scene field, a setting): the message names it and the cause."""
