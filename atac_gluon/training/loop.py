"""The epoch loop both scripts run: split across contexts, record, backward, step, metrics;
then per epoch validation and the run directory's end of the epoch."""
import math
import signal
import threading
import time

import mxnet as mx
from mxnet import autograd, gluon

from ..errors import Diverged, Interrupted
from .runtime import Progress, seed_epoch

__all__ = ['StopRequest', 'Training', 'train_epoch', 'evaluate', 'fit']


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
        Distributed workers: the parameter server sums their gradients, so each step is
        normalised by the global batch (this worker's batch times ``workers``).
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
            trainer.step(data.shape[0] * workers)
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


class Training(object):
    """What an epoch of training needs besides the data: the network and its trainer, the
    contexts a batch is split across, ``loss_fn(output, target, data)`` and
    ``prepare(data, label, epoch)`` (see :func:`train_epoch`), and the distributed workers
    whose batches make the global one."""

    def __init__(self, net, trainer, ctx, loss_fn, prepare=None, log_interval=50, workers=1):
        self.net, self.trainer, self.ctx = net, trainer, ctx
        self.loss_fn, self.prepare, self.log_interval = loss_fn, prepare, log_interval
        self.workers = workers

    def epoch(self, batches, epoch, lr_at, log, stop=None):
        return train_epoch(self.net, self.trainer, batches, self.ctx, self.loss_fn, epoch, log,
                           prepare=self.prepare, lr_at=lr_at, log_interval=self.log_interval,
                           stop=stop, workers=self.workers)


def fit(training, train_batches, validate, run_dir, lr_at, num_epochs, start=(0, (None, None)),
        seed=0):
    """Train from the start epoch to ``num_epochs``; per epoch: train, validate, then
    ``run_dir.end_epoch`` (checkpoint, metrics line, plot).

    Parameters
    ----------
    training : Training
    train_batches : object with ``set_epoch(epoch)`` and iteration (deterministic per epoch).
    validate : callable
        ``validate()`` -> (record fields dict, score); higher score is better.
    run_dir : RunDir
    lr_at : callable
        ``lr_at(epoch, batch_index)`` -> learning rate, set before every step.
    num_epochs : int
    start : (int, (float, int))
        First epoch to run and the best (score, epoch) so far: (0, (None, None)) for a new run.
    seed : int
        Base seed; each epoch is seeded from (seed, epoch), so a resumed run draws what an
        uninterrupted one draws.

    Returns
    -------
    dict
        best_score, best_epoch and the last record.
    """
    epoch, best = start
    record = None
    if epoch > 0:
        run_dir.draw()  # a kill may have come between a checkpoint and its plot
    log = run_dir.log
    try:
        with StopRequest() as stop:
            for epoch in range(start[0], num_epochs):
                seed_epoch(seed, epoch)
                train_batches.set_epoch(epoch)
                tic = time.time()
                stats = training.epoch(train_batches, epoch, lr_at, log, stop)
                fields, score = validate()
                record = dict(run_dir.run_info, epoch=epoch, train_acc=stats['train_acc'],
                              train_loss=stats['train_loss'], lr=lr_at(epoch, 0),
                              samples_per_sec=stats['samples'] / max(stats['seconds'], 1e-9),
                              time=time.time() - tic, **fields)
                best = run_dir.end_epoch(epoch, num_epochs, training.net, training.trainer,
                                         record, score, best)
                stop.check()  # a Ctrl-C during validation or saving: the epoch is saved
    except KeyboardInterrupt:
        done = run_dir.checkpoints.committed_epoch
        raise Interrupted('at epoch %d; %s: run the same command with --resume to continue' % (
            epoch, 'the checkpoint of epoch %d in %s is complete' % (done, run_dir.save_dir)
            if done is not None else 'no epoch was finished yet')) from None
    return {'best_score': best[0], 'best_epoch': best[1], 'record': record}
