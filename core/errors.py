"""The base of every error this project raises for a person to read.

Each subclass (bad data, a run folder that cannot be used, a diverged loss, bad settings...) carries a message of
one line that names what is wrong and, where there is one, what to do; a command line prints it after
``error: `` and exits with status 2, a window shows it in a dialog. Callers catch ``CCVAEError`` rather than a
list of subclasses. Anything else that escapes is a bug and keeps its traceback.
"""
from __future__ import annotations


class CCVAEError(Exception):
    """An error with a one-line message for the user.

    ``on_every_rank``: under torchrun, every process raised this same error (a shared check, or a loss that
    became NaN everywhere at once), so only rank 0 needs to print it (``core.distributed.reports_error``).
    """

    on_every_rank: bool = False

    def __init__(self, message: object = "", *, on_every_rank: bool = False):
        # messages often embed text from files or other exceptions: fold them onto one line for display
        super().__init__(" ".join(str(message).split()))
        self.on_every_rank = on_every_rank

    def __reduce__(self):  # keep the field when the error is sent to the other processes (pickle)
        return _rebuild, (type(self), str(self), self.on_every_rank)


def _rebuild(cls, message: str, on_every_rank: bool) -> "CCVAEError":
    error = cls.__new__(cls)
    CCVAEError.__init__(error, message, on_every_rank=on_every_rank)
    return error


class ConfigError(CCVAEError, ValueError):
    """Settings that contradict each other or a run's config.json (also a ValueError, for older callers)."""
