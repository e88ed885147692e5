"""The epoch loop both scripts run: split across contexts, record, backward, step, metrics;
then per epoch validation, checkpoints, the metrics line and the plot."""
import math
import signal
import threading
import time

import mxnet as mx
from mxnet import autograd, gluon

from ..errors import Diverged, Interrupted
from .runtime import Progress, seed_epoch

__all__ = ['train_epoch', 'evaluate', 'fit']


def _split(batch, ctx, even=True):
    return gluon.utils.split_and_load(batch, ctx_list=ctx, batch_axis=0, even_split=even)


class StopRequest(object):
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


def train_epoch(net, trainer, batches, ctx, loss_fn, epoch, log, prepare=None, lr_at=None,
                log_interval=50, stop=None):
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
            datas, targets, labels = _split(data, ctx), _split(target, ctx), _split(label, ctx)
            with autograd.record():
                outputs = [net(x) for x in datas]
                losses = [loss_fn(y, t, x) for y, t, x in zip(outputs, targets, datas)]
            autograd.backward(losses)
            batch_loss = sum(l.sum().asscalar() for l in losses)
            if not math.isfinite(batch_loss):
                raise Diverged('loss is %s at epoch %d, batch %d (learning rate %g); the '
                               'checkpoints of the earlier epochs are kept'
                               % (batch_loss, epoch, i, trainer.learning_rate))
            trainer.step(data.shape[0])
            metric.update(labels, outputs)
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


def evaluate(net, batches, ctx, metrics, dtype='float32'):
    """Update ``metrics`` (mx.metric objects) over ``batches`` in inference mode; return them.
    Inputs are cast to ``dtype`` (the network's)."""
    for metric in metrics:
        metric.reset()
    for data, label in batches:
        data = data.astype(dtype, copy=False)
        datas, labels = _split(data, ctx, even=False), _split(label, ctx, even=False)
        outputs = [net(x) for x in datas]
        for metric in metrics:
            metric.update(labels, outputs)
    return metrics


def fit(net, trainer, train_batches, ctx, loss_fn, num_epochs, validate, checkpoints, metrics_log,
        log, run_info, flags=None, seed=0, start_epoch=0, best=(None, None), lr_at_epoch=None,
        lr_at=None, prepare=None, save_period=0, plot=None, log_interval=50):
    """Train from ``start_epoch`` to ``num_epochs``; per epoch: validate, checkpoint, then log.

    Parameters
    ----------
    train_batches : object with ``set_epoch(epoch)`` and iteration (deterministic per epoch).
    validate : callable
        ``validate()`` -> (record fields dict, score); higher score is better.
    checkpoints : Checkpoints
    metrics_log : MetricsLog
    run_info : dict
        Constant fields of every metrics record (dataset, label_set, num_workers, ...).
    flags : dict, optional
        The run's flags, stored in every checkpoint manifest.
    seed : int
        Base seed; each epoch is seeded from (seed, epoch).
    start_epoch : int
        First epoch to run (resume).
    best : (float, int)
        Best score so far and its epoch (when resuming), else (None, None).
    lr_at_epoch : callable, optional
        ``lr_at_epoch(epoch)`` -> learning rate for the epoch (step schedules).
    lr_at, prepare
        Per-iteration rate and batch preparation, see :func:`train_epoch`.
    save_period : int
        Period of the numbered checkpoints, which are also written at the end (0: only the
        last and the best).
    plot : callable, optional
        ``plot(records)`` draws the history after each epoch.
    log_interval : int
        Batches between progress lines when not on a terminal.

    Returns
    -------
    dict
        best_score, best_epoch and the last record.
    """
    record = None
    best_score, best_epoch = best
    epoch = start_epoch
    if plot is not None and start_epoch > 0:
        plot(metrics_log.records())  # a kill may have come between a checkpoint and its plot
    try:
        with StopRequest() as stop:
            for epoch in range(start_epoch, num_epochs):
                record, best_score, best_epoch = _run_epoch(
                    epoch, net, trainer, train_batches, ctx, loss_fn, num_epochs, validate,
                    checkpoints, metrics_log, log, run_info, flags, seed, (best_score, best_epoch),
                    lr_at_epoch, lr_at, prepare, save_period, plot, log_interval, stop)
                stop.check()  # a Ctrl-C during validation or saving: the epoch is saved
    except KeyboardInterrupt:
        done = checkpoints.committed_epoch
        raise Interrupted('at epoch %d; %s: run the same command with --resume to continue' % (
            epoch, 'the checkpoint of epoch %d in %s is complete' % (done, checkpoints.save_dir)
            if done is not None else 'no epoch was finished yet')) from None
    return {'best_score': best_score, 'best_epoch': best_epoch, 'record': record}


def _run_epoch(epoch, net, trainer, train_batches, ctx, loss_fn, num_epochs, validate,
               checkpoints, metrics_log, log, run_info, flags, seed, best, lr_at_epoch, lr_at,
               prepare, save_period, plot, log_interval, stop):
    """One epoch of :func:`fit`: train, validate, commit the checkpoint, then the metrics line
    and the plot; returns (record, best_score, best_epoch)."""
    best_score, best_epoch = best
    seed_epoch(seed, epoch)
    if lr_at_epoch is not None:
        trainer.set_learning_rate(lr_at_epoch(epoch))
    lr = lr_at(epoch, 0) if lr_at is not None else trainer.learning_rate
    train_batches.set_epoch(epoch)
    tic = time.time()
    stats = train_epoch(net, trainer, train_batches, ctx, loss_fn, epoch, log,
                        prepare=prepare, lr_at=lr_at, log_interval=log_interval, stop=stop)
    fields, score = validate()
    record = dict(run_info, epoch=epoch, train_acc=stats['train_acc'],
                  train_loss=stats['train_loss'], lr=lr,
                  samples_per_sec=stats['samples'] / max(stats['seconds'], 1e-9),
                  time=time.time() - tic, **fields)
    improved = best_score is None or score > best_score
    if improved:
        best_score, best_epoch = score, epoch
    # every save_period epochs and at the end, as both official scripts save
    periodic = bool(save_period) and ((epoch + 1) % save_period == 0 or epoch == num_epochs - 1)
    checkpoints.save_epoch(epoch, net, trainer,
                           {'best_score': best_score, 'best_epoch': best_epoch,
                            'record': record, 'flags': flags or {}},
                           periodic=periodic, best=improved)
    metrics_log.append(record)
    log.info('[Epoch %d] %s', epoch, ' '.join(
        '%s=%s' % (k, ('%.6g' % v) if isinstance(v, float) else v)
        for k, v in sorted(record.items()) if k not in run_info))
    if plot is not None:
        plot(metrics_log.records())
    return record, best_score, best_epoch
