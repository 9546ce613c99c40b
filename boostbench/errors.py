"""The exceptions boostbench raises on purpose: one root, one class per kind of fault.

Messages name what was wrong so a user can grep for it:
``The 'k' parameter of hit_rate_at_k must be an int in [1, inf). Got 0 instead.``
(the checks that write them are :mod:`boostbench._core.params`).
"""

from __future__ import annotations

from contextlib import contextmanager

__all__ = ["BoostbenchError", "InvalidParameter", "UsageError", "OutputError", "PluginFailure",
           "plugin_call"]


class BoostbenchError(Exception):
    """Root of every error boostbench raises on purpose."""


class InvalidParameter(BoostbenchError, ValueError):
    """A parameter is outside its allowed range or of the wrong type."""

    def __init__(self, message: str, *, name: str | None = None):
        super().__init__(message)
        self.name = name


class UsageError(BoostbenchError):
    """A bad command-line value; the message is the one line the user sees."""


class OutputError(BoostbenchError, OSError):
    """A result file could not be written (disk full, permissions, ...); nothing was."""


class PluginFailure(BoostbenchError):
    """A ranker, attack or metric raised while running: the message names the plug-in, the
    call and the exception (``boostbench --debug`` shows the traceback)."""


@contextmanager
def plugin_call(kind: str, name, call: str):
    """Turn any failure of a plug-in's code inside the block into a :class:`PluginFailure`.

    boostbench's own errors pass through; so does Ctrl-C. A plug-in raising
    ``SystemExit`` fails like any other exception: it must not end the run as a success.
    """
    try:
        yield
    except BoostbenchError:
        raise
    except (Exception, SystemExit) as e:
        raise PluginFailure(f"{kind} {name!r} failed while {call}: {type(e).__name__}: "
                            f"{e}") from e
