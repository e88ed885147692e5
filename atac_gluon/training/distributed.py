"""Training on several machines through MXNet's parameter server: joining it (``--kvstore
dist_*``), the Trainer on it, the parameters' first exchange, and a digest that shows the
workers agree."""
import hashlib
import os

import mxnet as mx

from mxnet import gluon

from ..errors import BadInput

__all__ = ['distributed_kvstore', 'make_trainer', 'start_distributed', 'parameters_digest']


def distributed_kvstore(name, log=None):
    """(kvstore for the Trainer, this worker's rank, workers) for ``--kvstore name``.

    Local kvstores ('device', 'local', ...) are handed to the Trainer by name: (name, 0, 1). A
    ``dist_*`` one joins MXNet's parameter server, which must have been started around this
    process (``python -m atac_gluon.launch``); dist_async is refused because its updates run on
    the servers, whose trainer states cannot be saved (no exact resume). ``log`` gets this
    worker's rank.
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
    if log is not None and kv.num_workers > 1:
        log.info('worker %d of %d (%s)', kv.rank, kv.num_workers, name)
    return kv, kv.rank, kv.num_workers


def make_trainer(net, optimizer, kvstore):
    """The gluon.Trainer of ``net`` with ``optimizer`` (a spec's
    :class:`~atac_gluon.training.spec.Optimizer`) on ``kvstore`` (from
    :func:`distributed_kvstore`)."""
    # distributed (a kvstore object, not a name): workers update locally from the summed
    # gradients (update_on_kvstore off), so their trainer states can be saved
    distributed = not isinstance(kvstore, str)
    return gluon.Trainer(net.collect_params(), optimizer.name, optimizer.params(),
                         kvstore=kvstore, update_on_kvstore=False if distributed else None)


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


def parameters_digest(net):
    """SHA-256 of the network's trained parameters in name order (first context). BatchNorm's
    running statistics are left out: each worker gathers them from its own share of the data,
    as each GPU does on one machine (a checkpoint keeps rank 0's)."""
    digest = hashlib.sha256()
    for name, param in sorted(net._collect_params_with_prefix().items()):
        if param.grad_req == 'null':
            continue
        digest.update(name.encode())
        digest.update(param.list_data()[0].asnumpy().tobytes())
    return digest.hexdigest()
