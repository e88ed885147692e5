"""What a suite's runs have produced, read from their ``metrics.jsonl`` files only (so results
copied back from a cluster are read the same way)."""
import collections
import os

from ..errors import BadInput
from ..training.metrics import MetricsLog

__all__ = ['Result', 'read_result', 'run_dir', 'planned_epochs', 'MISSING', 'UNFINISHED',
           'FINISHED', 'UNREADABLE']

MISSING, UNFINISHED, FINISHED, UNREADABLE = 'missing', 'unfinished', 'finished', 'unreadable'

#: a run's state and numbers: ``state`` (one of the four above), ``epochs_done``, ``planned``
#: (epochs of the run), ``best`` / ``best_epoch`` (the suite's metric, best so far), ``record``
#: (the metrics line of the best epoch), ``records`` (all lines), ``note`` (why unreadable)
Result = collections.namedtuple('Result', 'run state epochs_done planned best best_epoch '
                                          'record records note')


def run_dir(root, suite, run):
    """The save directory of ``run``: ``root/<suite>/<run>``."""
    return os.path.join(root, suite.name, run.name)


def planned_epochs(flags):
    """``--num-epochs`` of a run's (flag, value) pairs."""
    return int(dict(flags)['--num-epochs'])


def read_result(root, suite, run, planned):
    """The :class:`Result` of ``run`` under ``root``.

    Parameters
    ----------
    root : str
        The experiments root (``--root``).
    suite : Suite
    run : Run
    planned : int
        Epochs the run is meant to train when its metrics do not say (the ``num_epochs`` of
        its last line wins: it is what the run was started with).
    """
    path = os.path.join(run_dir(root, suite, run), 'metrics.jsonl')
    try:
        records = MetricsLog(path).records()
    except (BadInput, OSError, ValueError) as err:
        return Result(run, UNREADABLE, 0, planned, None, None, None, [], str(err))
    if not records:
        return Result(run, MISSING, 0, planned, None, None, None, [], None)
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
    return Result(run, state, epochs_done, planned,
                  best_record[suite.metric] if best_record else None,
                  best_record['epoch'] if best_record else None, best_record, records, None)
