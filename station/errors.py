"""The errors every package may raise toward the command line.

:class:`UsageError` means bad input from the user (a file, an option): the command line prints
its message as one plain line and exits 2. Domain code raises it without knowing about the
command line, which only catches it.
"""

from __future__ import annotations


class UsageError(Exception):
    """Bad input from the user: printed as one plain line, exit code 2."""
