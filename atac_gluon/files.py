"""Files written whole or not at all: the one implementation of the package's atomic writes.

A file is written under a partial name beside its final one (``a.json`` -> ``a.partial.json``:
the extension stays, for writers that infer the format from it), fsynced and renamed into place,
so a reader sees the old file or the new one, never half of one; a failure or an interrupt
removes the partial file and leaves the old one as it was. A set of files (an export) goes
through a staging directory and is renamed all or none (:func:`write_staged`).

Imports only the standard library and :mod:`atac_gluon.errors`: every layer writes through it.
The file operations are looked up on :mod:`os` at each call (the crash-point test patches them).
"""
import errno
import os
import shutil
import tempfile

from .errors import BadInput, WriteFailed

__all__ = ['PARTIAL', 'partial_path', 'fsync', 'write_durably', 'atomic_write',
           'atomic_write_text', 'write_staged']

PARTIAL = '.partial'
"""What marks a file as not yet complete: ``<root>.partial<ext>`` (``<root>.partial.<random><ext>``
for :func:`write_durably`'s ``unique`` names)."""


def partial_path(path):
    """Where ``path`` is written before it is renamed into place (``a.params`` ->
    ``a.partial.params``: the extension stays, for writers that infer the format from it)."""
    root, ext = os.path.splitext(path)
    return root + PARTIAL + ext


def _unique_partial_path(path):
    """A new empty file ``<root>.partial.<random><ext>`` beside ``path``: a partial name no
    other process writing ``path`` at the same time uses."""
    root, ext = os.path.splitext(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(root) + PARTIAL + '.', suffix=ext,
                               dir=os.path.dirname(root))
    os.close(fd)
    return tmp


def fsync(path):
    """Make the contents of file ``path``, or the renames in directory ``path``, durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _directory(path):
    return os.path.dirname(os.path.abspath(path))


def write_durably(path, write, check=None, unique=False):
    """``write(tmp)`` to a partial name, fsync it, ``check(tmp)`` it if given, and rename it to
    ``path``; a failure or an interrupt leaves no partial file and ``path`` as it was.

    A writer that fails without an errno (MXNet's, matplotlib's) on a full disk is reported as
    ``OSError(ENOSPC)``. With ``unique`` the partial name is made unique (processes that write
    the same ``path`` at once each rename a whole file of their own; the last one wins). The
    rename's directory is not fsynced (:func:`atomic_write` does that).
    """
    tmp = _unique_partial_path(path) if unique else partial_path(path)
    try:
        write(tmp)
        fsync(tmp)
        if check is not None:
            check(tmp)
        os.replace(tmp, path)
    except BaseException as err:
        # MXNet's writer loses errno: tell a full disk by its free space, before the partial
        # file gives it back. An interrupt stays an interrupt; BadInput already says what is
        # wrong.
        full = (isinstance(err, Exception) and not isinstance(err, (OSError, BadInput))
                and _no_space_left(tmp))
        if os.path.exists(tmp):
            os.remove(tmp)
        if full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path) from err
        raise


def _no_space_left(path):
    try:
        return os.statvfs(_directory(path)).f_bavail == 0
    except OSError:
        return False


def atomic_write(path, write, unique=False):
    """:func:`write_durably` ``(path, write)``, then fsync the directory: the new ``path``
    survives a power cut once this returns. ``write(tmp)`` writes the whole file to ``tmp``
    (e.g. ``lambda tmp: fig.savefig(tmp, dpi=110)``)."""
    write_durably(path, write, unique=unique)
    fsync(_directory(path))


def atomic_write_text(path, text, unique=False):
    """Write ``text`` to ``path`` through a fsynced partial file and a rename."""
    def write(tmp):
        with open(tmp, 'w') as f:
            f.write(text)
    atomic_write(path, write, unique=unique)


def write_staged(prefix, write):
    """Write a set of files ``<prefix><suffix>`` all or none: ``write(staged)`` writes them as
    ``<staged><suffix>`` in a temporary directory beside ``prefix`` and returns their paths,
    which are then fsynced and renamed into place (a failure or a kill leaves no partial set
    under the final names). A write error (disk full, unwritable directory) is WriteFailed. Returns the
    final paths."""
    out_dir = _directory(prefix)
    try:
        staging = tempfile.mkdtemp(prefix='export' + PARTIAL + '.', dir=out_dir)
    except OSError as err:
        raise WriteFailed('cannot write the export in %s (%s)'
                          % (out_dir, err.strerror)) from None
    try:
        staged = os.path.join(staging, os.path.basename(prefix))
        files = write(staged)
        final = [prefix + path[len(staged):] for path in files]
        for path in files:
            fsync(path)
        for path, target in zip(files, final):
            os.replace(path, target)
        fsync(out_dir)
    except OSError as err:
        raise WriteFailed('cannot write the export %s (%s)' % (prefix, err.strerror)) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final
