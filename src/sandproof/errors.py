"""One error base for everything a person must read; the CLI maps it to exit 2."""


class Error(Exception):
    """A failure with a one-line message for a person: what, where, what was expected."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ProfileError(Error):
    """The profile file is missing, unreadable or not a valid sandproof profile."""

    def __init__(self, message: str) -> None:
        # one line whatever the file holds: a key or value with a newline, ESC or a
        # zero-width character is shown escaped, never printed raw to a terminal
        super().__init__("".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in message))


class EngineError(Error):
    """No container engine answers, or the engine refused a request."""


class ImageError(Error):
    """The image could not be assembled, imported or found."""


class BundleError(Error):
    """An evidence bundle is unreadable or not of a known shape."""


class OutputError(Error):
    """The output directory cannot be written."""
