"""The one exception type of the data package, and the file check every reader starts with."""
import os

from ..errors import BadInput

__all__ = ['DataError', 'existing_file']


class DataError(BadInput):
    """Bad, missing or corrupt data set files.

    The message is a single line that names the offending file or directory, so
    the training scripts can print it as-is and exit with status 2 instead of
    showing a traceback.
    """


def existing_file(path):
    """``path`` with ``~`` expanded, checked to be a file.

    Parameters
    ----------
    path : str
        A data file, e.g. a ``.rec`` or its ``.idx``.

    Returns
    -------
    str
        The expanded path.

    Raises
    ------
    DataError
        ``<path>: no such file``.
    """
    path = os.path.expanduser(path)
    if not os.path.isfile(path):
        raise DataError('%s: no such file' % path)
    return path
