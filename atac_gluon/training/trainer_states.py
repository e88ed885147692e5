"""Trainer-state files (``Trainer.save_states``) given on the command line: checked before
anything is written, then loaded into the run's trainer, the official open-atac files (whose
pickled optimizer carries a GluonCV ``lr_scheduler``) included; files that are not what they
claim to be are :class:`~atac_gluon.errors.BadInput` naming the flag and the file. (Float16
parameters, the released ResNet-50, load with ``load_parameters_checked(..., cast_dtype=True)``.)
"""
import pickle

import mxnet as mx
import numpy as np

from ..errors import BadInput, error_reason

__all__ = ['check_trainer_states', 'load_trainer_states']


def _arrays(state):
    """The NDArrays inside one optimizer state (None, an NDArray, or nested tuples/lists)."""
    if isinstance(state, mx.nd.NDArray):
        return [state]
    if isinstance(state, (tuple, list)):
        return [a for s in state for a in _arrays(s)]
    if state is None:
        return []
    raise TypeError(type(state).__name__)


def _read_states(path, flag):
    """(states dict, pickled optimizer or None) of a ``Trainer.save_states`` file."""
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as err:
        raise BadInput('%s %s: cannot read it (%s)' % (flag, path, err.strerror or err))
    try:
        loaded = pickle.loads(data)
    # foreign or cut bytes make pickle raise nearly anything (UnpicklingError, EOFError,
    # ValueError, KeyError, ImportError, MXNetError from an NDArray, ...): all mean a bad file
    except Exception as err:  # noqa: BLE001
        raise BadInput('%s %s is not a trainer-states file (Trainer.save_states) or is '
                       'truncated: %s: %s' % (flag, path, type(err).__name__, error_reason(err)))
    states, optimizer = loaded, None
    if isinstance(loaded, tuple) and len(loaded) == 2:
        states, optimizer = loaded
    if not isinstance(states, dict) or not (
            optimizer is None or isinstance(optimizer, mx.optimizer.Optimizer)):
        raise BadInput('%s %s is not a trainer-states file (Trainer.save_states): it holds a %s'
                       % (flag, path, type(loaded).__name__))
    return states, optimizer


def _indexed(params):
    """Parameters in the order a Trainer numbers them (sorted names for a ParameterDict)."""
    if hasattr(params, 'keys'):
        return [params[k] for k in sorted(params.keys())]
    return list(params)


def _check_states(states, optimizer, params, optimizer_class, path, flag):
    """BadInput unless the states fit ``optimizer_class`` and ``params`` (Trainer order)."""
    if optimizer is not None and type(optimizer) is not optimizer_class:
        raise BadInput('%s %s was written for the %s optimizer; this run uses %s'
                       % (flag, path, type(optimizer).__name__.lower(),
                          optimizer_class.__name__.lower()))
    deferred = [p.name for p in params if p._deferred_init]
    if deferred:
        raise BadInput('%s %s: the network has parameters of unknown shape (%s, ...) to fit '
                       'the states to: resume the parameters they belong to with --resume-params'
                       % (flag, path, deferred[0]))
    trained = [i for i, p in enumerate(params) if p.grad_req != 'null']
    if states and set(states) != set(trained):
        raise BadInput('%s %s holds optimizer states of %d parameters; this model trains %d: it '
                       'belongs to another model' % (flag, path, len(states), len(trained)))
    for i in trained if states else ():
        try:
            arrays = _arrays(states[i])
        except TypeError as err:
            raise BadInput('%s %s: the state of parameter %d is a %s, not arrays: not a '
                           'trainer-states file' % (flag, path, i, err))
        shape = params[i].shape
        for array in arrays:
            if tuple(array.shape) != tuple(shape):
                raise BadInput('%s %s: state of shape %s for parameter %s of shape %s: it '
                               'belongs to another model' % (flag, path, array.shape,
                                                             params[i].name, shape))


def check_trainer_states(path, params, optimizer='nag', flag='--resume-states'):
    """BadInput unless ``path`` is a ``Trainer.save_states`` file that fits ``params``.

    Lets a script check the file before it writes anything (the trainer comes later);
    :func:`load_trainer_states` checks again.

    Parameters
    ----------
    path : str
        The states file (a pickle: check only files you trust).
    params : ParameterDict or list of Parameter
        What the trainer will be built on (``net.collect_params()``), initialised.
    optimizer : str
        Registered name of the trainer's optimizer.
    flag : str
        Command-line flag named in errors.

    Raises
    ------
    BadInput
        Not a trainer-states pickle, truncated, another optimizer's or another model's states,
        or parameters of unknown shape.
    """
    states, loaded = _read_states(path, flag)
    _check_states(states, loaded, _indexed(params),
                  mx.optimizer.Optimizer.opt_registry[optimizer.lower()], path, flag)


def _adapt_state(state, param, optimizer):
    """(state, changed): the state in the layout ``optimizer`` expects for ``param``'s dtype.

    NAG and SGD keep ``(momentum, float32 master weight)`` for float16 weights with
    multi_precision, else the momentum alone in the weight's dtype. Other optimizers' states
    are returned as they are.
    """
    if not isinstance(optimizer, (mx.optimizer.NAG, mx.optimizer.SGD)):
        return state, False
    dtype = np.dtype(param.dtype)
    multi = bool(optimizer.multi_precision) and dtype == np.float16
    if isinstance(state, (tuple, list)):  # written by a multi_precision float16 run
        if multi:
            return state, False
        momentum = state[0]
        return (None if momentum is None else momentum.astype(dtype, copy=False)), True
    if multi:  # written in float32: the master weight is the current weight
        master = param.list_data()[0].astype(np.float32)
        return (None if state is None else state.astype(np.float32), master), True
    if state is not None and state.dtype != dtype:
        return state.astype(dtype), True
    return state, False


def _updaters(trainer):
    if trainer._update_on_kvstore:
        return [trainer._kvstore._updater]
    return list(trainer._updaters)


def load_trainer_states(trainer, path, flag='--resume-states', log=None):
    """``trainer.load_states(path)`` for files of the official scripts (and of ours).

    The momentum buffers, update counts and the other optimizer settings come from the file, as
    in the official script. Two things do not: the pickled learning-rate scheduler is dropped
    (this run sets the rate at every iteration, and ``set_learning_rate`` refuses to when one is
    present), and the state layout follows this run's dtype: ``(momentum, master weight)``
    states of a float16 multi_precision run become plain momenta for a float32 run, and back
    (the master copy taken from the current weights).

    Parameters
    ----------
    trainer : gluon.Trainer
        The run's trainer, built on the network whose parameters are already loaded (for
        example by ``load_parameters_checked(..., cast_dtype=True)``).
    path : str
        A ``Trainer.save_states`` file (a pickle: load only files you trust).
    flag : str
        Command-line flag named in errors.
    log : logging.Logger, optional
        Receives one line describing what was loaded.

    Returns
    -------
    dict
        ``optimizer`` (name), ``states`` (parameters with a state), ``num_update`` (updates
        done by the file's run), ``dropped_scheduler`` (bool) and ``converted`` (states whose
        layout or dtype was adapted).

    Raises
    ------
    BadInput
        The file is not a trainer-states pickle, is truncated, or belongs to another model or
        optimizer; or the network's parameters are not initialised yet.
    """
    ours = trainer._optimizer
    states, optimizer = _read_states(path, flag)
    _check_states(states, optimizer, trainer._params, type(ours), path, flag)
    lr, multi_precision = ours.lr, ours.multi_precision
    flags = {k: getattr(ours, k, None) for k in ('wd', 'momentum')}
    try:
        trainer.load_states(path)
    except (AssertionError, ValueError, mx.base.MXNetError) as err:
        raise BadInput('%s %s does not fit the trainer: %s' % (flag, path, error_reason(err)))
    dropped = False
    updaters = _updaters(trainer)
    for opt in {id(o): o for o in [trainer._optimizer] + [u.optimizer for u in updaters]}.values():
        dropped = dropped or opt.lr_scheduler is not None
        opt.lr_scheduler = None
        opt.lr = lr
        opt.multi_precision = multi_precision
    converted = set()
    for updater in updaters:
        for i in list(updater.states):
            state, changed = _adapt_state(updater.states[i], trainer._params[i],
                                          updater.optimizer)
            if changed:
                updater.states[i] = state
                updater.states_synced[i] = False  # moved to the weight's context at first use
                converted.add(i)
    loaded = trainer._optimizer
    info = {'optimizer': type(loaded).__name__.lower(), 'states': len(states),
            'num_update': int(loaded.num_update), 'dropped_scheduler': dropped,
            'converted': len(converted)}
    if log is not None:
        kept = ['%s %g (flag %g)' % (k, getattr(loaded, k), v) for k, v in flags.items()
                if v is not None and getattr(loaded, k, v) != v]
        log.info('%s %s: %s states of %d parameters after %d updates%s%s%s', flag, path,
                 info['optimizer'], info['states'], info['num_update'],
                 '; its learning-rate scheduler is replaced by this run\'s schedule'
                 if dropped else '',
                 '; %d states adapted to this run\'s dtype' % len(converted)
                 if converted else '',
                 '; the file\'s %s kept, as the official script does' % ', '.join(kept)
                 if kept else '')
    return info
