"""Lab errors: one clear message each, shown without a traceback by the CLI."""

from __future__ import annotations

from lbconsole.errors import LbconsoleError, UsageError


class LabError(LbconsoleError):
    """The lab could not be brought up, reached or taken down."""

    exit_code = 1


class LabNeedsRoot(UsageError):
    """Namespaces, taps and the VM all need root."""

    def __init__(self) -> None:
        super().__init__("the lab needs root: run `sudo lbconsole lab ...`")


class LabNotUp(LabError):
    def __init__(self) -> None:
        super().__init__("the lab is not up: run `lbconsole lab up` first")
