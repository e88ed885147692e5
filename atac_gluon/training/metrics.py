"""``metrics.jsonl`` (one JSON object per finished epoch, in order, never duplicated) and the
training-history plot."""
import json
import os

from .checkpoint import atomic_write_text

__all__ = ['MetricsLog', 'plot_history']


class MetricsLog(object):
    """Append-only per-epoch records in ``path``; ``resume_at`` makes it agree with a checkpoint.

    Parameters
    ----------
    path : str
        The ``metrics.jsonl`` file.
    """

    def __init__(self, path):
        self.path = path

    def records(self):
        if not os.path.exists(self.path):
            return []
        with open(self.path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def append(self, record):
        with open(self.path, 'a') as f:
            f.write(json.dumps(record, sort_keys=True) + '\n')
            f.flush()
            os.fsync(f.fileno())

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
    history.plot(save_path=path)
    import matplotlib.pyplot as plt
    plt.close('all')
