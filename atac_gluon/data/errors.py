"""The one exception type of the data package."""
from ..errors import BadInput


class DataError(BadInput):
    """Bad, missing or corrupt data set files.

    The message is a single line that names the offending file or directory, so
    the training scripts can print it as-is and exit with status 2 instead of
    showing a traceback.
    """
