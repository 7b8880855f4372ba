"""Exceptions governance raises for problems a user must fix (the pipeline maps them to exit code 2)."""


class DatasetError(ValueError):
    """The dataset as a whole cannot be read: a missing folder, metadata file or unusable layout.

    The message names the path and what to do. Problems with single records are never raised:
    they become per-record decisions.
    """
