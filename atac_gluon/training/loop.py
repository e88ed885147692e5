"""The epoch loop both scripts run: the training step (split across contexts, record,
backward, step), an epoch of them with its metric; then per epoch validation and the run
directory's end of the epoch."""
import math
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple

import mxnet as mx
from mxnet import autograd, gluon

from ..errors import Diverged, Interrupted
from ..evaluation import evaluate  # re-exported: the validation of every epoch
from .logs import Progress
from .rundir import Best, Start
from .seeding import seed_epoch

__all__ = ['StopRequest', 'Objective', 'Validation', 'FitResult', 'train_step', 'train_epoch',
           'evaluate', 'fit']


def _split(batch, ctx, even=True):
    return gluon.utils.split_and_load(batch, ctx_list=ctx, batch_axis=0, even_split=even)


@dataclass(frozen=True)
class Objective:
    """What the training steps minimise: ``loss(output, target, data)`` -> per-sample loss
    (data is there for distillation), and ``prepare(data, label, epoch)`` -> (data, target)
    (mixup, label smoothing, casting) or None; ``notes``: lines for the run's log."""

    loss: Callable
    prepare: Optional[Callable] = None
    notes: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Validation:
    """One validation: the metrics record's fields and the score (higher is better)."""

    fields: Dict[str, float]
    score: float


@dataclass(frozen=True)
class FitResult:
    """The best epoch of a run and the record of its last epoch (None if none ran)."""

    best: Best
    record: Optional[Dict[str, Any]]


class StopRequest:
    """Ctrl-C during training: the first one lets the current step (or checkpoint) finish and
    stops at the next :meth:`check`; a second one stops at once. Outside the main thread, and
    outside the ``with`` block, Ctrl-C keeps Python's default behaviour."""

    def __init__(self):
        self.requested, self._previous = False, None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False

    def _handle(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def check(self):
        if self.requested:
            raise KeyboardInterrupt


def train_step(net, trainer, data, target, ctx, loss_fn, workers=1):
    """One optimisation step on a global batch: split across ``ctx``, forward and loss under
    ``autograd.record``, backward, the summed loss read back (a synchronisation point) and
    checked, then ``trainer.step``. The training loop and the benchmark both time this.

    Parameters
    ----------
    net, trainer : the network and its gluon.Trainer.
    data, target : NDArray
        The batch and what the loss compares the outputs with.
    ctx : list of Context
    loss_fn : callable
        ``loss_fn(output, target, data)`` -> per-sample loss.
    workers : int
        Distributed workers: the parameter server sums their gradients, so the step is
        normalised by the global batch (this worker's batch times ``workers``).

    Returns
    -------
    outputs : list of NDArray
        The network's outputs, one per context.
    loss : float
        The loss summed over the batch.

    Raises
    ------
    Diverged
        The loss is not finite; no step was taken.
    """
    datas, targets = _split(data, ctx), _split(target, ctx)
    with autograd.record():
        outputs = [net(x) for x in datas]
        losses = [loss_fn(y, t, x) for y, t, x in zip(outputs, targets, datas)]
    autograd.backward(losses)
    # summed as Python floats: NumPy 2 would keep float32 scalars float32 (NEP 50), NumPy 1
    # promotes them, and the records must not depend on the NumPy
    loss = sum(float(l.sum().asscalar()) for l in losses)
    if not math.isfinite(loss):
        raise Diverged('loss is %s' % loss)
    trainer.step(data.shape[0] * workers)
    return outputs, loss


def train_epoch(net, trainer, batches, ctx, loss_fn, epoch, log, prepare=None, lr_at=None,
                log_interval=50, stop=None, workers=1):
    """One pass over ``batches``; returns train_loss, train_acc, samples, seconds.

    Parameters
    ----------
    net, trainer : the network and its gluon.Trainer.
    batches : iterable of (data, label) NDArrays, the global batch (split across ``ctx``).
    ctx : list of Context.
    loss_fn : callable
        ``loss_fn(output, target, data)`` -> per-sample loss (data is there for distillation).
    epoch : int
        For the progress lines and ``lr_at``.
    prepare : callable, optional
        ``prepare(data, label, epoch)`` -> (data, target): mixup, label smoothing, casting.
    lr_at : callable, optional
        ``lr_at(epoch, batch_index)`` -> learning rate set before each step (iteration-wise
        schedules); epoch-wise schedules set it before calling.
    stop : StopRequest, optional
        Checked after each step.
    workers : int
        Distributed workers (see :func:`train_step`).
    """
    metric = mx.metric.Accuracy()
    total_loss, samples = 0.0, 0
    progress = Progress(log, len(batches), epoch, log_interval)
    start = time.time()
    try:
        for i, (data, label) in enumerate(batches):
            if lr_at is not None:
                trainer.set_learning_rate(lr_at(epoch, i))
            target = label
            if prepare is not None:
                data, target = prepare(data, label, epoch)
            try:
                outputs, batch_loss = train_step(net, trainer, data, target, ctx, loss_fn,
                                                 workers)
            except Diverged as err:
                raise Diverged('%s at epoch %d, batch %d (learning rate %g); the checkpoints '
                               'of the earlier epochs are kept'
                               % (err, epoch, i, trainer.learning_rate)) from None
            metric.update(_split(label, ctx), outputs)
            total_loss += batch_loss
            samples += data.shape[0]
            progress.update(data.shape[0], batch_loss / data.shape[0])
            if stop is not None:
                stop.check()
    finally:
        progress.close()
    seconds = time.time() - start
    return {'train_loss': total_loss / max(samples, 1), 'train_acc': metric.get()[1],
            'samples': samples, 'seconds': seconds}


def fit(net, trainer, ctx, objective, train_batches, validate, run_dir, lr_at, num_epochs,
        start=None, seed=0, log_interval=50, workers=1) -> FitResult:
    """Train from the start epoch to ``num_epochs``; per epoch: train, validate, then
    ``run_dir.end_epoch`` (checkpoint, metrics line, plot).

    Parameters
    ----------
    net, trainer : the network and its gluon.Trainer.
    ctx : list of Context
        Each batch is split across them.
    objective : Objective
    train_batches : object with ``set_epoch(epoch)`` and iteration (deterministic per epoch).
    validate : callable
        ``validate()`` -> Validation.
    run_dir : RunDir
    lr_at : callable
        ``lr_at(epoch, batch_index)`` -> learning rate, set before every step.
    num_epochs : int
    start : Start, optional
        First epoch to run and the best so far (default: epoch 0, no best: a new run).
    seed : int
        Base seed; each epoch is seeded from (seed, epoch), so a resumed run draws what an
        uninterrupted one draws.
    log_interval : int
        Batches between progress lines.
    workers : int
        Distributed workers (see :func:`train_step`).
    """
    start = start or Start()
    epoch, best = start.epoch, start.best
    record = None
    if epoch > 0:
        run_dir.draw()  # a kill may have come between a checkpoint and its plot
    log = run_dir.log
    try:
        with StopRequest() as stop:
            for epoch in range(start.epoch, num_epochs):
                seed_epoch(seed, epoch)
                train_batches.set_epoch(epoch)
                tic = time.time()
                stats = train_epoch(net, trainer, train_batches, ctx, objective.loss, epoch, log,
                                    prepare=objective.prepare, lr_at=lr_at,
                                    log_interval=log_interval, stop=stop, workers=workers)
                validation = validate()
                record = dict(run_dir.run_info, epoch=epoch, train_acc=stats['train_acc'],
                              train_loss=stats['train_loss'], lr=lr_at(epoch, 0),
                              samples_per_sec=stats['samples'] / max(stats['seconds'], 1e-9),
                              time=time.time() - tic, **validation.fields)
                best = run_dir.end_epoch(epoch, num_epochs, net, trainer, record,
                                         validation.score, best)
                stop.check()  # a Ctrl-C during validation or saving: the epoch is saved
    except KeyboardInterrupt:
        done = run_dir.checkpoints.committed_epoch
        raise Interrupted('at epoch %d; %s: run the same command with --resume to continue' % (
            epoch, 'the checkpoint of epoch %d in %s is complete' % (done, run_dir.save_dir)
            if done is not None else 'no epoch was finished yet')) from None
    return FitResult(best, record)
