"""The one training runner under both scripts: ``run(spec, task)`` reads top to bottom as a run
goes. The settings come from the spec (:mod:`atac_gluon.training.spec`), what differs between
CIFAR and ImageNet from the task (:mod:`atac_gluon.training.tasks`)."""
from typing import Optional

import mxnet as mx

from ..flops import summary
from .devices import check_dtype, contexts_from_gpus, fuse_gates
from .distributed import distributed_kvstore, make_trainer, parameters_digest, start_distributed
from .logs import setup_logging
from .loop import FitResult, fit
from .rundir import RunDir
from .seeding import seed_epoch
from .spec import RunSpec
from .tasks import Task

__all__ = ['run']


def run(spec: RunSpec, task: Task) -> Optional[FitResult]:
    """Train ``spec``'s run with ``task`` (``--summary``: print FLOPs and parameters and stop,
    returning None). Every input is checked before the run directory is written."""
    seed_epoch(spec.seed, -1)  # initialisation
    net = spec.model.build()  # first: the model flags are checked before any data is read
    if spec.summary:
        net.initialize(mx.init.MSRAPrelu())
        summary(net, mx.nd.zeros(spec.model.input_shape))
        return None
    log = setup_logging()
    ctx = contexts_from_gpus(spec.gpus, log)
    check_dtype(spec.dtype, ctx)
    kvstore, rank, workers = distributed_kvstore(spec.kvstore, log)
    data = task.load_data(spec, spec.batch_size * len(ctx), log, part=(rank, workers))
    net = spec.model.with_classes(net, data.classes)
    notes = task.initialize(net, spec, data, ctx)
    objective = task.objective(spec, data.classes, ctx)
    notes += objective.notes
    if spec.fused_gates:
        notes.append(fuse_gates(net, spec.dtype, ctx))
    lr_at = spec.schedule.lr_at(len(data.train))
    # every input is checked: only now is anything written
    run_dir = RunDir.of(spec, dict(data.run_info, dist_workers=workers,
                                   num_epochs=spec.num_epochs), writer=rank == 0)
    log = run_dir.log
    log.info('model %s, %d classes, on %s', spec.model.name, data.classes, ctx)
    for note in notes:
        log.info('%s', note)
    trainer = make_trainer(net, spec.optimizer, kvstore)
    start = (run_dir.resume(net, trainer, ctx) if spec.resume
             else task.official_start(spec, trainer, log))
    if not isinstance(kvstore, str):  # a parameter server
        start_distributed(net, trainer, spec.model.input_shape, spec.dtype, ctx)
    if spec.hybridize:
        net.hybridize(static_alloc=True, static_shape=True)
    result = fit(net, trainer, ctx, objective, data.train,
                 lambda: task.validate(net, data, ctx, spec.dtype), run_dir, lr_at,
                 spec.num_epochs, start, spec.seed, spec.log_interval, workers)
    if result.best.score is not None:
        log.info('best %s %.4f at epoch %s', spec.score.label,
                 spec.score.shown(result.best.score), result.best.epoch)
    if workers > 1:  # every worker's, to show they agree
        log.info('worker %d trained parameters: sha256 %s', rank, parameters_digest(net))
    if rank == 0 and spec.export:
        run_dir.export(net, spec.model.name, spec.model.input_shape)
    if rank == 0:
        log.info('results in %s: metrics.jsonl, %s, checkpoints; plot %s', spec.files.save_dir,
                 spec.files.log_name, spec.files.plot_path)
    return result
