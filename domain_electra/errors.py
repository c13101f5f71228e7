"""User-facing errors: one line that names the bad input and says what to do."""


class UserError(Exception):
    """A mistake in the user's input. The CLI prints it as one line (no traceback) and exits with 2."""
