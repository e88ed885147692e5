"""A RecordIO scanner: the checks a ``.rec`` / ``.idx`` pair must pass before training reads it.

``mx.io.ImageRecordIter`` reads the records in C++ threads, and a wrong ``.idx`` offset (an
``.idx`` of another ``.rec``, a truncated copy) makes it abort the whole process from such a
thread, past any Python handler: no ``error:`` line, no exit code 2.  ``rec_stats`` therefore
walks the pair before any iterator is built and turns each problem of the pair into a
``DataError`` naming the file and record:

- every ``.idx`` line is ``<key>\\t<offset>`` with a non-negative offset;
- at every offset a RecordIO frame starts (the magic, a whole record or the first part of a
  split one) and its parts end inside the file;
- every record has an ``IRHeader`` and a label that is a class number (the first label of a
  label array);
- the ``.idx`` lists every record of the ``.rec`` exactly once (ImageRecordIter reads them all
  whatever the ``.idx`` lists, so otherwise the epoch length would not be the ``.idx`` count).

Only frame headers and record headers are read, never the image bytes, so ImageNet's 140 GB
``train.rec`` takes seconds.  The same walk gives the number of samples and classes.
"""
import math
import os
import struct

import mxnet as mx
import numpy as np

from .errors import DataError, existing_file

__all__ = ['RECORDIO_MAGIC', 'rec_num_samples', 'rec_stats']

#: First word of every RecordIO frame (dmlc-core ``RecordIOWriter::kMagic``).
RECORDIO_MAGIC = 0xced7230a

_FRAME = struct.Struct('<II')         # magic, then cflag (3 high bits) | payload length
_LENGTH_MASK = (1 << 29) - 1
_MAGIC_BYTES = struct.pack('<I', RECORDIO_MAGIC)
# cflag of a frame: 0 whole record, 1 / 2 / 3 first / middle / last part of a split one.
_CFLAG_CONTINUED = (1, 2)
_CFLAG_STARTS = (0, 1)
_IR_FORMAT = mx.recordio._IR_FORMAT  # pylint: disable=protected-access
_IR_SIZE = mx.recordio._IR_SIZE      # pylint: disable=protected-access
_FIRST_LABEL = struct.Struct('f')


def rec_num_samples(idx_path):
    """Number of records an ``.idx`` file lists (one non-empty line per record).

    Only counts lines, so it takes a fraction of a second even for ImageNet's
    1.28 million records; ``rec_stats`` parses and checks them.

    Parameters
    ----------
    idx_path : str
        The ``.idx`` file; ``~`` is expanded.

    Returns
    -------
    int
    """
    idx_path = existing_file(idx_path)
    try:
        with open(idx_path, 'rb') as f:
            count = sum(1 for line in f if line.strip())
    except OSError as exc:
        raise DataError('%s: cannot read (%s)' % (idx_path, exc.strerror or exc)) from None
    if not count:
        raise DataError('%s: lists no records' % idx_path)
    return count


def rec_stats(rec_path, idx_path):
    """Records and classes of a RecordIO pair, from the record headers alone.

    For each offset in the ``.idx`` only the RecordIO frame header and the
    ``IRHeader`` (plus the first label of a label array) are read, never the
    image bytes, so ImageNet's 140 GB ``train.rec`` takes seconds.  Call it
    before ``rec_iterators``: a wrong ``.idx`` offset makes ImageRecordIter
    abort the whole process from its C++ thread, past any Python handler.

    Parameters
    ----------
    rec_path, idx_path : str
        The ``.rec`` file and its index; ``~`` is expanded.

    Returns
    -------
    num_samples : int
        Records listed in the ``.idx``.
    num_classes : int
        Largest label plus one (the first label of records holding several).

    Raises
    ------
    DataError
        A missing file, an unparsable ``.idx`` line, an offset beyond the end of
        the ``.rec``, no RecordIO frame at an offset, a label that is not a
        non-negative integer, or an ``.idx`` that does not list every record
        exactly once; the message names the file.
    """
    rec_path = existing_file(rec_path)
    idx_path = existing_file(idx_path)
    entries = _read_idx(idx_path)
    size = os.path.getsize(rec_path)
    labels, ends = [], []
    try:
        # Unbuffered: each record costs one seek and one small read, not an 8 KiB refill.
        with open(rec_path, 'rb', buffering=0) as f:
            for key, offset in entries:
                label, end = _read_record(f, rec_path, size, key, offset)
                labels.append(label)
                ends.append(end)
    except OSError as exc:
        raise DataError('%s: cannot read (%s)' % (rec_path, exc.strerror or exc)) from None
    _check_coverage(rec_path, idx_path, entries, ends, size)
    return len(entries), max(labels) + 1


def _read_idx(idx_path):
    """[(key, offset)] of an existing ``.idx`` file, checked line by line."""
    entries = []
    try:
        with open(idx_path, 'rb') as f:
            for number, line in enumerate(f, 1):
                fields = line.split()
                if not fields:
                    continue
                try:
                    key, offset = (int(v) for v in fields)
                except ValueError:
                    raise DataError('%s: line %d is %r, expected "<index>\\t<offset>"'
                                    % (idx_path, number, line.decode('latin-1').rstrip()[:60])) \
                        from None
                if offset < 0:
                    raise DataError('%s: line %d has negative offset %d'
                                    % (idx_path, number, offset))
                entries.append((key, offset))
    except OSError as exc:
        raise DataError('%s: cannot read (%s)' % (idx_path, exc.strerror or exc)) from None
    if not entries:
        raise DataError('%s: lists no records' % idx_path)
    return entries


def _read_record(f, rec_path, size, key, offset):
    """(label, offset past the record) of ``.idx`` entry (key, offset), from its headers."""
    # A label array stores its first label right after the IRHeader: read that too.
    head, end = _record_head(f, rec_path, size, key, offset, _IR_SIZE + _FIRST_LABEL.size)
    if len(head) < _IR_SIZE:
        raise _bad_record(rec_path, key, offset,
                          'is %d bytes, too short for a record header' % len(head))
    flag, label = struct.unpack(_IR_FORMAT, head[:_IR_SIZE])[:2]
    if flag > 0:
        if len(head) < _IR_SIZE + _FIRST_LABEL.size:
            raise _bad_record(rec_path, key, offset,
                              'announces %d labels but ends before them' % flag)
        label = _FIRST_LABEL.unpack_from(head, _IR_SIZE)[0]
    if not (math.isfinite(label) and label >= 0 and label == int(label)):
        raise _bad_record(rec_path, key, offset,
                          'has label %r, expected a class number >= 0' % label)
    return int(label), end


def _record_head(f, rec_path, size, key, offset, need):
    """(first ``need`` payload bytes or fewer, offset past the record) of one record."""
    # The writer splits a record wherever its payload contains the magic number at a 4-byte
    # boundary, e.g. an IRHeader whose id is 0xced7230a; the parts are joined back with the
    # magic, as dmlc-core's reader does, and only the frame headers of the remaining parts
    # are read.
    head = b''
    position = offset
    while True:
        if position + _FRAME.size > size:
            raise _bad_record(rec_path, key, offset,
                              'has a frame at byte %d, beyond the end of the %d-byte file '
                              '(truncated copy, or an .idx of another .rec?)' % (position, size))
        f.seek(position)
        frame = f.read(_FRAME.size + max(0, need - len(head)))
        magic, word = _FRAME.unpack_from(frame)
        if magic != RECORDIO_MAGIC:
            raise _bad_record(rec_path, key, offset,
                              'has no RecordIO frame at byte %d (magic 0x%08x, expected 0x%08x; '
                              'an .idx of another .rec?)' % (position, magic, RECORDIO_MAGIC))
        cflag, length = word >> 29, word & _LENGTH_MASK
        if position == offset and cflag not in _CFLAG_STARTS:
            raise _bad_record(rec_path, key, offset, 'starts in the middle of a split record')
        if position + _FRAME.size + length > size:
            raise _bad_record(rec_path, key, offset,
                              'has a %d-byte frame at byte %d that runs past the end of the '
                              '%d-byte file (truncated copy?)' % (length, position, size))
        head += frame[_FRAME.size:_FRAME.size + length]
        position += _FRAME.size + (length + 3) // 4 * 4
        if cflag not in _CFLAG_CONTINUED:
            return head[:need], position
        head += _MAGIC_BYTES  # the writer cut the record at this magic and dropped it


def _bad_record(rec_path, key, offset, problem):
    """DataError about one record (built only on failure: the scan must stay fast)."""
    return DataError('%s: record %d at offset %d %s' % (rec_path, key, offset, problem))


def _check_coverage(rec_path, idx_path, entries, ends, size):
    """Refuse an ``.idx`` that does not list every record of the ``.rec`` exactly once."""
    # ImageRecordIter reads every record of the .rec whatever the .idx lists, so otherwise the
    # .idx count would not be the epoch length.
    offsets = np.array([offset for _, offset in entries], dtype=np.int64)
    order = np.argsort(offsets, kind='stable')
    starts, stops = offsets[order], np.asarray(ends, dtype=np.int64)[order]
    expected = np.concatenate([[0], stops[:-1]])
    wrong = np.flatnonzero(starts != expected)
    if wrong.size:
        first = wrong[0]
        if starts[first] < expected[first]:
            raise _bad_record(rec_path, entries[order[first]][0], starts[first],
                              'overlaps the record before it (a repeated line in %s?)'
                              % idx_path)
        raise DataError('%s: bytes %d..%d hold records that %s does not list (an .idx of '
                        'another or an interrupted im2rec run?)'
                        % (rec_path, expected[first], starts[first], idx_path))
    if stops[-1] != size:
        raise DataError('%s: the records %s lists end at byte %d but the file has %d bytes '
                        '(an .idx of an interrupted im2rec run?)'
                        % (rec_path, idx_path, stops[-1], size))
