"""What the runs of a suite's configurations have produced, read from their ``metrics.jsonl``
files only (so results copied back from a cluster are read the same way)."""
import collections
import os

from ..errors import BadInput
from ..training.metrics import MetricsLog

__all__ = ['Result', 'read_result', 'save_dir', 'planned_epochs', 'MISSING', 'UNFINISHED',
           'FINISHED', 'UNREADABLE']

MISSING, UNFINISHED, FINISHED, UNREADABLE = 'missing', 'unfinished', 'finished', 'unreadable'

#: the state and numbers of a configuration's run: ``config``, ``state`` (one of the four
#: above), ``epochs_done``, ``planned`` (epochs of the run), ``best`` / ``best_epoch`` (the
#: suite's metric, best so far), ``record`` (the metrics line of the best epoch), ``records``
#: (all lines), ``note`` (why unreadable)
Result = collections.namedtuple('Result', 'config state epochs_done planned best best_epoch '
                                          'record records note')


def save_dir(root, suite, config):
    """The save directory of ``config`` (its run): ``root/<suite>/<name>``."""
    return os.path.join(root, suite.name, config.name)


def planned_epochs(flags):
    """``--num-epochs`` of a configuration's (flag, value) pairs."""
    return int(dict(flags)['--num-epochs'])


def read_result(root, suite, config, planned):
    """The :class:`Result` of ``config``'s run under ``root``.

    Parameters
    ----------
    root : str
        The experiments root (``--root``).
    suite : Suite
    config : Configuration
    planned : int
        Epochs the run is meant to train when its metrics do not say (the ``num_epochs`` of
        its last line wins: it is what the run was started with).
    """
    path = os.path.join(save_dir(root, suite, config), 'metrics.jsonl')
    try:
        records = MetricsLog(path).records()
    except (BadInput, OSError, ValueError) as err:
        return Result(config, UNREADABLE, 0, planned, None, None, None, [], str(err))
    if not records:
        return Result(config, MISSING, 0, planned, None, None, None, [], None)
    planned = int(records[-1].get('num_epochs', planned))
    scored = [r for r in records if r.get(suite.metric) is not None]
    best_record = None
    if scored:
        # the first epoch reaching the best value, as the scripts' best checkpoint
        if suite.higher_is_better:
            best_record = max(scored, key=lambda r: (r[suite.metric], -r['epoch']))
        else:
            best_record = min(scored, key=lambda r: (r[suite.metric], r['epoch']))
    epochs_done = records[-1]['epoch'] + 1
    state = FINISHED if epochs_done >= planned else UNFINISHED
    return Result(config, state, epochs_done, planned,
                  best_record[suite.metric] if best_record else None,
                  best_record['epoch'] if best_record else None, best_record, records, None)
