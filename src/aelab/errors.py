"""The one exception type for bad input: its message names the problem and the fix."""


class ConfigError(ValueError):
    """A user-facing configuration or data error; printed as one line, exit code 2."""


class NonFiniteLossError(RuntimeError):
    """Training diverged: the loss or the weights are NaN or infinite."""
