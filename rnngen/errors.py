"""The errors a user can cause and fix: bad input text, an unreadable checkpoint, a corpus too small
for the batch, a prime the model cannot read. The CLI turns every ``UserError`` into a one-line
message and exit code 1. Kept apart so that catching them imports nothing heavy."""


class UserError(Exception):
    """A problem the user can fix; the message names the file (if any) and what to do."""
