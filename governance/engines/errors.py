"""The error an engine raises when it cannot run here; its own module so that the engines and the
package that chooses between them import it without importing each other."""

from governance.errors import DatasetError


class EngineUnavailable(DatasetError):
    """The configured engine cannot run here (Ray missing, a cluster that does not answer).

    A DatasetError so that the command line exits 2 with the message, which names the fix.
    """
