"""Errors whose message is meant for the user, as opposed to bugs."""


class UserError(Exception):
    """A failure the user can act on; its message is shown as is (no traceback in the window)."""


class JobCancelled(Exception):
    """Raised inside a job when the user cancelled it; not an error."""
