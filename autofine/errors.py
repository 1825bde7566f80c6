"""One exception type for problems a user can fix: the CLI prints it as one line, no traceback."""


class UserError(Exception):
    """A problem with the user's input or setup. The message names the problem and the fix."""
