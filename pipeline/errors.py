"""Errors the CLI maps to exit codes (docs/cli.md): 2 usage or config, 1 anything unexpected."""


class UsageError(Exception):
    """Bad input from the user (config, flags, dataset path). Exit code 2. The message names the fix."""


class ConfigError(UsageError):
    """A config value is missing, unknown or invalid."""
