"""The errors dis-seg raises for what a user gave it; each message names the key or file at
fault and what was expected. The commands print such an error as one line ``error: ...``."""

from __future__ import annotations

REFUSED = 2
"""The exit status of a command that refuses its config or inputs before doing any work."""
RUN_FAILED = 1
"""The exit status of a run that met a problem of its data or inputs while it ran."""


class ConfigError(ValueError):
    """A config value is invalid; the message starts with its key."""


class CheckpointError(ConfigError):
    """A checkpoint path names no file, or a file that is not a readable dis-seg checkpoint;
    the message starts with the config key that gave the path."""


class DataError(ValueError):
    """Input data is missing or malformed; the message names the file, line or tag at fault."""


class MissingFileError(DataError):
    """A listed image, mask or labelmap is not a readable file."""


class UnknownTagError(DataError):
    """A tag that is not one of the class names."""


class PipelineError(RuntimeError):
    """A run folder cannot be taken up; the message says what to do."""
