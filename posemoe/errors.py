"""The one domain exception of posemoe.

Library code raises ``PoseMoEError`` for anything a user can fix (a missing file, a data file
with the wrong key or shape, a checkpoint for another joint layout). The message is one line
that names the file or value, what was expected and what was found. The command line turns it
into that line on stderr and a non-zero exit status, with no traceback.
"""


class PoseMoEError(Exception):
    """A user-fixable problem, described in one line."""
