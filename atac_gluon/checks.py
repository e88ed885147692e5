"""Checks of command-line input shared by every command (the training scripts, ``python -m
atac_gluon[.export|.predict]``): the range of every numeric flag, from one table, and the output
paths; a bad value raises BadInput naming the flag before anything is written.

Imports nothing but the errors module (no mxnet), so any layer may use it.
"""
import math
import numbers
import os
import tempfile

from .errors import BadInput

__all__ = ['Rule', 'NUMERIC_FLAGS', 'int_range', 'flag_name', 'check_numbers',
           'check_output_dir', 'check_file_in_dir', 'check_prefix']


def _finite(value):
    return isinstance(value, numbers.Real) and math.isfinite(value)


class Rule:
    """A range a numeric flag must lie in: ``text`` says it ("a positive integer"), ``test``
    tells whether a value does."""

    def __init__(self, text, test):
        self.text, self.test = text, test

    def check(self, flag, value):
        """BadInput ``<flag> must be <text>, got <value>`` unless ``value`` passes."""
        if not (_finite(value) and self.test(value)):
            raise BadInput('%s must be %s, got %s' % (flag, self.text, value))


def int_range(low, high):
    """Integers from ``low`` to ``high``, both included."""
    return Rule('an integer from %d to %d' % (low, high), lambda v: low <= v <= high)


POSITIVE = Rule('a positive finite number', lambda v: v > 0)
NON_NEGATIVE = Rule('a non-negative finite number', lambda v: v >= 0)
POSITIVE_INT = Rule('a positive integer', lambda v: v >= 1)
NON_NEGATIVE_INT = Rule('a non-negative integer', lambda v: v >= 0)
CLASSES = Rule('an integer of at least 2', lambda v: v >= 2)
BELOW_ONE = Rule('a number in [0, 1)', lambda v: 0 <= v < 1)
UNIT = Rule('a number in [0, 1]', lambda v: 0 <= v <= 1)
CROP_RATIO = Rule('a number in (0, 1]', lambda v: 0 < v <= 1)

#: destination -> range, for every numeric flag of every command; a command checks the ones it
#: has (``--act-layers`` depends on the model host: the callers add its rule).
NUMERIC_FLAGS = {
    # training, both scripts
    'batch_size': POSITIVE_INT, 'num_epochs': POSITIVE_INT, 'num_workers': NON_NEGATIVE_INT,
    'lr': POSITIVE, 'momentum': BELOW_ONE, 'wd': NON_NEGATIVE, 'lr_decay': POSITIVE,
    'lr_decay_period': NON_NEGATIVE_INT, 'seed': NON_NEGATIVE_INT, 'cpu_threads': POSITIVE_INT,
    # the model (training scripts and the zoo command lines)
    'blocks': POSITIVE_INT, 'r': POSITIVE_INT, 'classes': CLASSES,
    # train_cifar.py
    'drop_rate': BELOW_ONE, 'save_period': NON_NEGATIVE_INT,
    # train_imagenet.py (input_size, crop_ratio: also python -m atac_gluon.predict)
    'num_gpus': NON_NEGATIVE_INT, 'input_size': POSITIVE_INT, 'crop_ratio': CROP_RATIO,
    'warmup_lr': NON_NEGATIVE, 'warmup_epochs': NON_NEGATIVE_INT, 'mixup_alpha': POSITIVE,
    'mixup_off_epoch': NON_NEGATIVE_INT, 'temperature': POSITIVE, 'hard_weight': UNIT,
    'save_frequency': NON_NEGATIVE_INT, 'resume_epoch': NON_NEGATIVE_INT,
    'log_interval': NON_NEGATIVE_INT,  # 0: no progress lines, as officially
}


def flag_name(dest):
    """The command-line spelling of an option's destination."""
    return '-j/--num-data-workers' if dest == 'num_workers' else '--' + dest.replace('_', '-')


def check_numbers(opt, extra=None):
    """Check every flag of ``opt`` that :data:`NUMERIC_FLAGS` (or ``extra``, dest -> Rule)
    lists and that is set (not None); BadInput names the first bad one."""
    rules = dict(NUMERIC_FLAGS, **(extra or {}))
    for dest, rule in rules.items():
        value = getattr(opt, dest, None)
        if value is not None:
            rule.check(flag_name(dest), value)


# --------------------------------------------------------------------------- output paths

def _nearest_existing(path):
    """``path`` or its nearest ancestor that exists (absolute)."""
    path = os.path.abspath(path)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def _writable(directory):
    """Whether a file can be created in ``directory``: tried, since os.access says yes to root
    even on a read-only file system (the probe is an unnamed temporary file where the system
    has them, else a named one removed at once)."""
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError:
        return False
    return True


def _check_writable_dir(flag, path, directory):
    if not os.path.isdir(directory):
        raise BadInput('%s %s: %s is not a directory' % (flag, path, directory))
    if not _writable(directory):
        raise BadInput('%s %s: directory %s is not writable' % (flag, path, directory))


def check_output_dir(path, flag):
    """A directory the run writes into and creates if missing: it must be a writable directory,
    or be missing with a writable directory as its nearest existing ancestor. Creates
    nothing."""
    if not path:
        raise BadInput('%s must not be empty' % flag)
    if os.path.lexists(path) and not os.path.exists(path):
        raise BadInput('%s %s is a broken symbolic link' % (flag, path))
    if os.path.exists(path) and not os.path.isdir(path):
        raise BadInput('%s %s exists and is not a directory' % (flag, path))
    _check_writable_dir(flag, path, _nearest_existing(path))


def check_file_in_dir(name, flag, directory):
    """A file the run writes as ``os.path.join(directory, name)`` once it has created
    ``directory`` (itself checked with :func:`check_output_dir`): the name must not be empty nor
    a directory, and a directory part other than ``directory`` must exist and be writable."""
    if not name or name.endswith(('/', os.sep)):
        raise BadInput('%s %r must name a file' % (flag, name))
    path = os.path.join(directory, name)
    if os.path.isdir(path):
        raise BadInput('%s %s is a directory' % (flag, path))
    parent = os.path.dirname(os.path.abspath(path))
    if parent == os.path.abspath(directory):
        return
    if not os.path.exists(parent):
        raise BadInput('%s %s: directory %s does not exist' % (flag, name, parent))
    _check_writable_dir(flag, name, parent)


def check_prefix(prefix, flag, suffixes):
    """An output prefix whose files are ``prefix + suffix``: it must end in a file name, in an
    existing writable directory, and no output name may be a directory."""
    if not prefix or not os.path.basename(prefix):
        raise BadInput('%s %r must end in a file name (e.g. out/model), not a directory'
                       % (flag, prefix))
    parent = os.path.dirname(os.path.abspath(prefix))
    if not os.path.exists(parent):
        raise BadInput('%s %s: directory %s does not exist' % (flag, prefix, parent))
    for suffix in suffixes:
        if os.path.isdir(prefix + suffix):
            raise BadInput('%s %s: %s%s is a directory' % (flag, prefix, prefix, suffix))
    _check_writable_dir(flag, prefix, parent)
