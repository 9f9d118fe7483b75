"""The one exception the data package raises for anything wrong with a user's data or data settings."""
from __future__ import annotations

from core.errors import CCVAEError


class DataError(CCVAEError):
    """A data set is missing, malformed or misconfigured.

    The message is one line that names the file or folder concerned and what was expected or missing, so a
    command-line tool or a dialog can show it as is.
    """

    def __init__(self, message: object = "", **kwargs):
        message = str(message)
        lines = message.strip().splitlines()
        # A DataLoader worker's error comes back re-raised as DataError("Caught DataError in DataLoader worker
        # ...\n<traceback>"); its last line, "...DataError: <message>", holds the message worth showing.
        if len(lines) > 1 and lines[0].startswith("Caught DataError") and "DataError: " in lines[-1]:
            message = lines[-1].split("DataError: ", 1)[1]
        super().__init__(message, **kwargs)
