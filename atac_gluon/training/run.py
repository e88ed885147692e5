"""The one training runner under both scripts: ``run(opt, task)`` reads top to bottom as a run
goes (seed, contexts, data, network, run directory, trainer, resume, fit, export). What differs
between CIFAR and ImageNet comes from the task (:mod:`atac_gluon.training.tasks`)."""
import hashlib

import mxnet as mx
from mxnet import gluon

from ..activations import set_fused_gates
from ..errors import BadInput
from ..flops import summary
from .loop import Training, evaluate, fit
from .rundir import RunDir
from .runtime import (contexts_from_gpus, distributed_kvstore, seed_epoch, setup_logging,
                      start_distributed)

__all__ = ['run']


def run(opt, task):
    """Train ``task`` with the checked flags ``opt`` (``--summary``: print FLOPs and parameters
    and stop). Every input is checked before the run directory is written; returns the result
    of :func:`~atac_gluon.training.loop.fit` (None for ``--summary``)."""
    seed_epoch(opt.seed, -1)  # initialisation
    # built first: the model flags are checked before any data is read
    net = task.build_model(opt, task.default_classes(opt))
    if opt.summary:
        net.initialize(mx.init.MSRAPrelu())
        summary(net, mx.nd.zeros(task.input_shape(opt)))
        return None
    log = setup_logging()
    ctx = contexts_from_gpus(task.gpus(opt), log)
    task.check_contexts(opt, ctx)
    kvstore, rank, workers = distributed_kvstore(opt.kvstore)
    if workers > 1:
        log.info('worker %d of %d (%s)', rank, workers, opt.kvstore)
    data = task.load_data(opt, opt.batch_size * len(ctx), log, part=(rank, workers))
    if data.classes != task.default_classes(opt):
        net = task.build_model(opt, data.classes)
    notes = task.initialize(net, opt, data.classes, ctx)
    if opt.fused_gates:
        notes.append(fuse_gates(net, task.dtype(opt), ctx))
    # every input is checked: only now is anything written
    run_dir = RunDir(opt.save_dir, task.checkpoint_prefix(opt), task.best_stem,
                     identity={k: getattr(opt, k) for k in task.identity_flags},
                     resume=opt.resume, log_name=task.log_name(opt),
                     run_info=dict(data.run_info, dist_workers=workers,
                                   num_epochs=opt.num_epochs), flags=vars(opt),
                     save_period=task.save_period(opt),
                     plot=(task.plot_path(opt), task.plot_errors), writer=rank == 0)
    log = run_dir.log
    log.info('model %s, %d classes, on %s', task.model_name, data.classes, ctx)
    for note in notes:
        log.info('%s', note)
    task.before_training(net, opt, log)
    # distributed (a kvstore object, not a name): workers update locally from the summed
    # gradients (update_on_kvstore off), so their trainer states can be saved
    distributed = not isinstance(kvstore, str)
    trainer = gluon.Trainer(net.collect_params(), 'nag', task.optimizer_params(opt),
                            kvstore=kvstore, update_on_kvstore=False if distributed else None)
    start = (run_dir.resume(net, trainer, ctx) if opt.resume
             else task.official_start(opt, trainer, log))
    if distributed:
        start_distributed(net, trainer, task.input_shape(opt), task.dtype(opt), ctx)
    if opt.mode == 'hybrid':
        net.hybridize(static_alloc=True, static_shape=True)
    metrics = task.metrics(data.classes)

    def validate():
        return task.record(evaluate(net, data.val, ctx, metrics, task.dtype(opt)))

    result = fit(Training(net, trainer, ctx, task.loss(opt), task.prepare(opt, data.classes),
                          task.log_interval(opt), workers),
                 data.train, validate, run_dir, task.lr_at(opt, len(data.train)),
                 opt.num_epochs, start, opt.seed)
    if result['best_score'] is not None:
        log.info('%s', task.best_line(result))
    if workers > 1:  # every worker's, to show they agree
        log.info('worker %d trained parameters: sha256 %s', rank, parameters_digest(net))
    if rank != 0:
        return result
    if opt.export:
        set_fused_gates(net, False)  # the export needs no operator library
        exported = run_dir.export(net, task.model_name, task.input_shape(opt))
        log.info('exported %s', ', '.join(exported))
    log.info('results in %s: metrics.jsonl, %s, checkpoints; plot %s', opt.save_dir,
             task.log_name(opt), task.plot_path(opt))
    return result


def fuse_gates(net, dtype, ctx):
    """--fused-gates: switch ``net``'s local ChaATAC units to the fused operator (building the
    library if needed); returns the note to log. BadInput when it cannot apply: float32 on the
    CPU only, and only to local units."""
    if dtype != 'float32':
        raise BadInput('--fused-gates: the fused gate is float32 only, not --dtype %s' % dtype)
    if any(c.device_type != 'cpu' for c in ctx):
        raise BadInput('--fused-gates: the fused gate runs on the CPU only, not on %s' % ctx)
    try:
        units = set_fused_gates(net)
    except BadInput as err:
        raise BadInput('--fused-gates: %s' % err) from None
    if not units:
        raise BadInput('--fused-gates: the network has no local ChaATAC unit to fuse (--act-type '
                       'ChaATAC without --useGlobal has them)')
    return 'fused ATAC gates: %d units compute sigmoid and product in atac_gluon.ops' % units


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
