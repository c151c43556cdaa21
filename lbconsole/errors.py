"""Errors that end in a clear one-line message, never a traceback."""


class LbconsoleError(Exception):
    """Base for errors shown to the user as one message."""

    exit_code = 1


class UsageError(LbconsoleError):
    exit_code = 2


class InventoryError(UsageError):
    """A missing, unreadable or invalid inventory; names the file and line."""

    def __init__(self, path: str, message: str, line: int | None = None):
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"inventory {where}: {message}")
        self.path = path
        self.line = line


class RefusedError(LbconsoleError):
    """An action refused by read-only mode or a safety check."""

    exit_code = 3
