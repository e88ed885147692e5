"""A run's save directory: the log file, the checkpoints and their policy, ``metrics.jsonl`` and
the history plot, ``--resume`` and the final export. It owns the end of every epoch."""
import os
from dataclasses import dataclass, field
from typing import Optional

import mxnet as mx

from ..activations import set_fused_gates
from ..errors import BadInput
from ..deployment import export_all
from .checkpoint import Checkpoints, log_skipped
from .metrics import MetricsLog, plot_history
from .logs import setup_logging

__all__ = ['RunDir', 'Best', 'Start']


@dataclass(frozen=True)
class Best:
    """The best validation score so far and its epoch (None before the first epoch)."""

    score: Optional[float] = None
    epoch: Optional[int] = None

    def after(self, score: float, epoch: int) -> 'Best':
        """The best once ``epoch`` scored ``score`` (higher is better)."""
        return Best(score, epoch) if self.improved_by(score) else self

    def improved_by(self, score: float) -> bool:
        return self.score is None or score > self.score


@dataclass(frozen=True)
class Start:
    """Where a run starts: its first epoch and the best of the epochs before it."""

    epoch: int = 0
    best: Best = field(default_factory=Best)


class RunDir:
    """A run's save directory: log file, checkpoints, metrics, plot, resume, export.

    Parameters
    ----------
    save_dir : str
        Created if missing (after all inputs were checked, so bad input leaves nothing behind).
    prefix : str
        Stem of the per-epoch checkpoints ``<prefix>-<epoch>``.
    best_stem : callable
        ``best_stem(score, epoch)`` -> official-style name of the best checkpoint.
    identity : dict
        The flags that define the model and data; ``--resume`` refuses a directory whose
        checkpoint was made with other values.
    resume : bool
        Whether the run continues the directory's checkpoints; without it a directory that holds
        checkpoints is refused (its runs would mix) before anything is written.
    log_name : str
        The log file, in ``save_dir``.
    run_info : dict
        Constant fields of every metrics record (dataset, label_set, num_workers, ...).
    flags : dict
        The run's flags, stored in every checkpoint manifest.
    save_period : int
        Period of the numbered checkpoints kept for good (also the last epoch's; 0: only the
        newest and the best).
    plot : (str, callable), optional
        The history PNG's path and ``errors(record)`` -> [training error, validation error].
    writer : bool
        False on the distributed workers other than rank 0: they read the directory (to resume
        from the same checkpoint) but write nothing; rank 0 writes for the run.

    A directory whose manifests cannot be read, or that holds parameter files no manifest
    names, is refused with or without ``resume`` (BadInput), so trained files are never
    overwritten by a run that cannot see them.
    """

    def __init__(self, save_dir, prefix, best_stem, identity, resume, log_name='train.log',
                 run_info=None, flags=None, save_period=0, plot=None, writer=True):
        if os.path.exists(save_dir) and not os.path.isdir(save_dir):
            raise BadInput('--save-dir %s exists and is not a directory' % save_dir)
        self.save_dir, self.identity = save_dir, identity
        self.run_info, self.flags, self.save_period = run_info or {}, flags or {}, save_period
        self.plot, self.writer = plot, writer
        self.checkpoints = Checkpoints(save_dir, prefix, best_stem)
        self.metrics = MetricsLog(os.path.join(save_dir, 'metrics.jsonl'))
        manifests = self.checkpoints.scan()  # refuses unreadable manifests and stray files
        if not resume and manifests:
            raise BadInput('--save-dir %s holds checkpoints of an earlier run: pass --resume to '
                           'continue it, or choose another --save-dir' % save_dir)
        # the checkpoint to resume from is chosen (and its files hashed, once) before anything is
        # written; resume() loads it and logs what was skipped
        self.resume_from, self._skipped = (self.checkpoints.find_intact() if resume
                                           else (None, []))
        if self.resume_from is not None:
            self._check_identity(self.resume_from)
        if not writer:
            self.log = setup_logging()
            return
        os.makedirs(save_dir, exist_ok=True)
        self.checkpoints.clean()
        self.log = setup_logging(os.path.join(save_dir, log_name))
        if not resume and os.path.exists(self.metrics.path):
            # metrics of a run that died before its first checkpoint
            os.remove(self.metrics.path)

    @classmethod
    def of(cls, spec, run_info, writer=True) -> 'RunDir':
        """The run directory of ``spec`` (a :class:`~atac_gluon.training.spec.RunSpec`), its
        metrics records starting with ``run_info``."""
        files = spec.files
        return cls(files.save_dir, files.checkpoint_prefix, spec.best_stem, spec.identity,
                   spec.resume, files.log_name, run_info=run_info, flags=spec.flags,
                   save_period=spec.save_period, plot=(files.plot_path, spec.score.plot_errors),
                   writer=writer)

    def _check_identity(self, info):
        saved = info.get('flags', {})
        changed = sorted(k for k, v in self.identity.items() if k in saved and saved[k] != v)
        if changed:
            raise BadInput('--resume: the checkpoint in %s was made with other %s (%s)' % (
                self.save_dir, ', '.join('--' + k.replace('_', '-') for k in changed),
                ', '.join('%s=%r' % (k, saved[k]) for k in changed)))

    def resume(self, net, trainer, ctx) -> Start:
        """Restore the newest intact checkpoint; returns where the run continues. Logs which
        checkpoint it took and why it skipped any newer one."""
        info = self.resume_from
        log_skipped(self.log, self._skipped)
        if info is None:
            self.log.info('--resume: no checkpoint in %s, starting at epoch 0', self.save_dir)
            return Start()
        self.checkpoints.restore(info, net, trainer, ctx)
        if self.writer:
            self.checkpoints.roll_forward(info)
            self.metrics.resume_at(info['record'])
        self.log.info('resumed from %s (epoch %d done, best %.4f at epoch %s)', info['stem'],
                      info['epoch'], info['best_score'], info.get('best_epoch'))
        return Start(info['epoch'] + 1, Best(info['best_score'], info.get('best_epoch')))

    def end_epoch(self, epoch, num_epochs, net, trainer, record, score, best: Best) -> Best:
        """Close ``epoch``: commit its checkpoint (and a new best), then its metrics line, the log
        line and the plot. ``best`` is the best before this epoch; returns it updated."""
        improved = best.improved_by(score)
        best = best.after(score, epoch)
        # every save_period epochs and at the end, as both official scripts save
        periodic = bool(self.save_period) and ((epoch + 1) % self.save_period == 0
                                               or epoch == num_epochs - 1)
        if self.writer:
            self.checkpoints.save_epoch(epoch, net, trainer,
                                        {'best_score': best.score, 'best_epoch': best.epoch,
                                         'record': record, 'flags': self.flags},
                                        periodic=periodic, best=improved)
            self.metrics.append(record)
        self.log.info('[Epoch %d] %s', epoch, ' '.join(
            '%s=%s' % (k, ('%.6g' % v) if isinstance(v, float) else v)
            for k, v in sorted(record.items()) if k not in self.run_info))
        self.draw()
        return best

    def draw(self):
        """The history plot of the metrics so far (if the run has one)."""
        if self.plot is not None and self.writer:
            path, errors = self.plot
            plot_history(self.metrics.records(), path, errors)

    def export(self, net, name, input_shape):
        """Export the trained ``net`` with the parameters of the best checkpoint, else the last,
        in float32 on the CPU, to ``<save_dir>/<name>-symbol.json``, ``<name>-0000.params`` and
        ``<name>.onnx`` (renamed into place: a kill leaves no torn export), with MXNet's
        operators (fused gates are switched back); returns the paths."""
        try:
            info = self.checkpoints.newest_intact(self.log, kind='best')
        except BadInput:  # no intact best: the newest intact checkpoint
            info = None
        info = info or self.checkpoints.newest_intact(self.log)
        if info is None:
            raise BadInput('--export: no checkpoint in %s to export' % self.save_dir)
        set_fused_gates(net, False)  # the export needs no operator library
        # float32 for deployment, whatever the training dtype (float16 on GPUs)
        net.cast('float32')
        net.collect_params().reset_ctx(mx.cpu())  # one context, whatever the training used
        net.load_parameters(self.checkpoints.path_of(info), ctx=mx.cpu(), cast_dtype=True,
                            dtype_source='current')
        self.log.info('exporting %s (epoch %d)', info['stem'], info['epoch'])
        exported = export_all(net, os.path.join(self.save_dir, name), input_shape, onnx=True)
        self.log.info('exported %s', ', '.join(exported))
        return exported
