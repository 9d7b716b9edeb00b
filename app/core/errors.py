"""Errors whose message is meant for the user, as opposed to bugs."""


class UserError(Exception):
    """A failure the user can act on; its message is shown as is (no traceback in the window)."""


class JobCancelled(Exception):
    """Raised inside a job when the user cancelled it; not an error."""


class IncompleteFile(UserError):
    """A model file that ends before the end its own header declares (an interrupted download or copy).

    `have` is the file's size in bytes; `expected` the size its header declares, or None when the file ends inside
    the header itself."""

    def __init__(self, message: str, have: int = 0, expected: int | None = None) -> None:
        super().__init__(message)
        self.have, self.expected = have, expected
