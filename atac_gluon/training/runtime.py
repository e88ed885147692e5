"""Run plumbing shared by the scripts: contexts, seeding, logging, progress."""
import logging
import os
import random
import sys
import time

import mxnet as mx
import numpy as np

from ..data.seeds import GLOBAL_STREAM, INIT_STREAM, derived_seed
from ..errors import BadInput

__all__ = ['contexts_from_gpus', 'distributed_kvstore', 'start_distributed', 'seed_epoch',
           'setup_logging', 'Progress']


def distributed_kvstore(name):
    """(kvstore for the Trainer, this worker's rank, workers) for ``--kvstore name``.

    Local kvstores ('device', 'local', ...) are handed to the Trainer by name: (name, 0, 1). A
    ``dist_*`` one joins MXNet's parameter server, which must have been started around this
    process (``python -m atac_gluon.launch``); dist_async is refused because its updates run on
    the servers, whose trainer states cannot be saved (no exact resume).
    """
    if not name.startswith('dist'):
        return name, 0, 1
    if name == 'dist_async':
        raise BadInput("--kvstore dist_async: MXNet's Trainer updates on the servers in async "
                       'mode and cannot save those optimizer states (Trainer.save_states '
                       'refuses), so checkpoints could not resume; use dist_sync or '
                       'dist_device_sync')
    if 'DMLC_ROLE' not in os.environ:
        raise BadInput('--kvstore %s needs the parameter server: start the command with python '
                       '-m atac_gluon.launch -n WORKERS -s SERVERS -- ...' % name)
    kv = mx.kv.create(name)
    return kv, kv.rank, kv.num_workers


def start_distributed(net, trainer, input_shape, dtype, ctx):
    """Send the parameters to the parameter server before the first step, and wait for them.

    MXNet 1.9.1's Trainer does it lazily, inside its first ``step()``: every worker pulls rank
    0's initial values with an engine operation that does not wait for that step's gradient
    pushpull of the same key. When the pull reaches the server after both workers' gradients
    were merged there, that worker's parameter becomes the gradient sum, and the workers never
    agree again (seen on 2 cores: one array of 134, in about one run in five). Here the pulls
    are done before any gradient is pushed. Deferred shapes are inferred first (no forward
    pass: an inference-mode oneDNN convolution reorders its weight in place, and the kvstore
    aborts on such an array), so that no parameter is left for the lazy path.
    """
    deferred = [p for p in net.collect_params().values() if p._deferred_init]
    if deferred:
        net.infer_shape(mx.nd.zeros(input_shape, ctx=ctx[0], dtype=dtype))
        for param in deferred:
            param._finish_deferred_init()
    # the Trainer has no public call for this: its own first-step path, taken early
    if not trainer._kv_initialized:
        trainer._init_kvstore()
    trainer._init_params()
    if trainer._params_to_init:
        raise RuntimeError('parameters still deferred: %s'
                           % ', '.join(p.name for p in trainer._params_to_init))
    mx.nd.waitall()


def contexts_from_gpus(gpus, log):
    """Contexts for the official ``--gpus`` string ('0', '0,1', '' for CPU).

    Without GPUs each requested GPU becomes one CPU context (cpu(0), cpu(1), ...), so batches are
    split and gradients aggregated exactly as on the GPUs and the global batch stays the same.
    """
    try:
        ids = [int(i) for i in gpus.split(',') if i.strip()]
    except ValueError:
        raise BadInput('--gpus must be comma-separated GPU ids such as 0 or 0,1, got %r' % gpus)
    if len(set(ids)) != len(ids) or any(i < 0 for i in ids):
        raise BadInput('--gpus must list distinct non-negative ids, got %r' % gpus)
    if not ids:
        return [mx.cpu()]
    available = mx.context.num_gpus()
    if available:
        missing = [i for i in ids if i >= available]
        if missing:
            raise BadInput('--gpus %s: only %d GPU(s) here' % (gpus, available))
        return [mx.gpu(i) for i in ids]
    log.info('no GPU here: training on %d CPU context(s) instead of GPU(s) %s', len(ids), gpus)
    return [mx.cpu(i) for i in range(len(ids))]


def seed_epoch(seed, epoch):
    """Seed MXNet, NumPy and Python for one epoch, so a run resumed at any epoch draws what an
    uninterrupted run draws."""
    # epoch -1: the weight initialisation before the first epoch
    value = (derived_seed(seed, 0, INIT_STREAM) if epoch < 0
             else derived_seed(seed, epoch, GLOBAL_STREAM))  # 31 bits: mx.random.seed's int
    mx.random.seed(value)
    np.random.seed(value)
    random.seed(value)


def setup_logging(log_file=None):
    """Log to stderr and, if given, to ``log_file`` (appended, so a resumed run continues it)."""
    log = logging.getLogger('atac')
    log.setLevel(logging.INFO)
    log.propagate = False
    for handler in list(log.handlers):
        log.removeHandler(handler)
    fmt = logging.Formatter('%(asctime)s %(levelname)s %(message)s')
    handlers = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(logging.FileHandler(log_file))
    for handler in handlers:
        handler.setFormatter(fmt)
        log.addHandler(handler)
    return log


class Progress(object):
    """Per-epoch progress: a tqdm bar on a terminal, a log line every ``log_interval`` batches
    otherwise (logs and CI output stay readable)."""

    def __init__(self, log, total, epoch, log_interval=50, stream=None):
        self.log, self.total, self.epoch = log, total, epoch
        self.log_interval = log_interval
        self.samples, self.start, self.done = 0, time.time(), 0
        stream = stream or sys.stderr
        self.bar = None
        if stream.isatty():
            from tqdm import tqdm
            self.bar = tqdm(total=total, desc='epoch %d' % epoch, leave=False, file=stream)

    def update(self, batch_size, loss):
        self.done += 1
        self.samples += batch_size
        speed = self.samples / max(time.time() - self.start, 1e-9)
        if self.bar is not None:
            self.bar.set_postfix(loss='%.4f' % loss, speed='%.0f img/s' % speed, refresh=False)
            self.bar.update(1)
        elif self.log_interval and self.done % self.log_interval == 0:
            self.log.info('[Epoch %d] batch %d/%d loss=%.4f speed=%.1f samples/s', self.epoch,
                          self.done, self.total, loss, speed)

    def close(self):
        if self.bar is not None:
            self.bar.close()
