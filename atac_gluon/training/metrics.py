"""``metrics.jsonl`` (one JSON object per finished epoch, in order, never duplicated) and the
training-history plot."""
import json
import os

from ..errors import BadInput, WriteFailed
from ..files import atomic_write, atomic_write_text

__all__ = ['MetricsLog', 'plot_history']


class MetricsLog:
    """Append-only per-epoch records in ``path``; ``resume_at`` makes it agree with a checkpoint.

    Parameters
    ----------
    path : str
        The ``metrics.jsonl`` file.
    """

    def __init__(self, path):
        self.path = path

    def records(self):
        """The complete records; a last line cut short by a kill is left out."""
        if not os.path.exists(self.path):
            return []
        records = []
        with open(self.path) as f:
            for line in f:
                try:
                    records.append(json.loads(line))
                except ValueError:
                    if line.endswith('\n'):
                        raise BadInput('%s: line %d is not JSON; the file was edited'
                                       % (self.path, len(records) + 1)) from None
        return records

    def append(self, record):
        """Append one line (one write, fsynced); WriteFailed if the disk refuses it."""
        try:
            with open(self.path, 'a') as f:
                f.write(json.dumps(record, sort_keys=True) + '\n')
                f.flush()
                os.fsync(f.fileno())
        except OSError as err:
            raise WriteFailed('cannot append to %s (%s); the checkpoint of epoch %d is intact '
                              'and --resume restores this line' % (self.path, err.strerror,
                                                                    record['epoch'])) from None

    def resume_at(self, checkpoint_record):
        """Keep the records up to the checkpoint's epoch, whose own record (stored in the
        checkpoint) is restored if the run died between the checkpoint and its metrics line;
        lines of epochs after the checkpoint (if any) are dropped, as they will be redone."""
        epoch = checkpoint_record['epoch']
        kept = [r for r in self.records() if r['epoch'] < epoch] + [checkpoint_record]
        atomic_write_text(self.path, ''.join(json.dumps(r, sort_keys=True) + '\n' for r in kept))
        return kept


def cifar_errors(record):
    return [1 - record['train_acc'], 1 - record['val_acc']]


def plot_history(records, path, errors=cifar_errors):
    """Training and validation error per epoch, as the official CIFAR script draws it (GluonCV's
    TrainingHistory), written to ``path``.

    Parameters
    ----------
    records : list of dict
        The metrics records.
    path : str
        PNG file.
    errors : callable
        ``errors(record)`` -> [training error, validation error].
    """
    import matplotlib
    matplotlib.use('Agg')
    from gluoncv.utils import TrainingHistory
    history = TrainingHistory(['training-error', 'validation-error'])
    for record in records:
        history.update(errors(record))
    import matplotlib.pyplot as plt
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)  # --save-plot-dir
        # through a partial file, so a kill never leaves a torn PNG under the final name
        atomic_write(path, lambda tmp: history.plot(save_path=tmp))
    except OSError as err:
        raise WriteFailed('cannot write the plot %s (%s)' % (path, err.strerror)) from None
    finally:
        plt.close('all')
