"""The one exception type whose message the command line shows as it is."""

from __future__ import annotations


class MeshtalkError(Exception):
    """An error caused by the user's input or environment, with a one-line message.

    The CLI prints ``meshtalk: error: <message>`` and exits with status 2; no traceback.
    Messages name the offending file or argument and, where possible, the fix.
    """


class MissingExtraError(MeshtalkError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, package: str, extra: str, purpose: str):
        super().__init__(
            f"{purpose} needs the Python package '{package}': "
            f"pip install 'meshtalk[{extra}]' (or: make setup-{extra})"
        )
        self.package = package
        self.extra = extra
