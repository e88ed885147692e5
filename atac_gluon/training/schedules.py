"""Learning-rate schedules as pure functions of the position in training, so a resumed run
sets exactly the rate an uninterrupted one would; :class:`StepSchedule` and
:class:`WarmupSchedule` are the two scripts' schedules as settings of a run."""
import bisect
from dataclasses import dataclass
from typing import Callable, Tuple

from ..errors import BadInput

__all__ = ['step_schedule', 'warmup_schedule', 'StepSchedule', 'WarmupSchedule']

#: ``lr_at(epoch, batch_index)`` -> the learning rate of that step
LrAt = Callable[[int, int], float]


def step_schedule(base_lr, decay, decay_epochs):
    """``lr(epoch) = base_lr * decay ** (number of decay epochs <= epoch)``: the official CIFAR
    schedule (the rate is multiplied by ``decay`` at the start of each listed epoch).

    Parameters
    ----------
    base_lr : float
        Initial learning rate.
    decay : float
        Factor applied at each decay epoch.
    decay_epochs : list of int
        Epochs (0-based) at whose start the rate decays.
    """
    epochs = sorted(decay_epochs)

    def lr_at_epoch(epoch):
        return base_lr * decay ** bisect.bisect_right(epochs, epoch)
    return lr_at_epoch


def warmup_schedule(mode, base_lr, num_epochs, iters_per_epoch, warmup_epochs=0, warmup_lr=0.0,
                    decay=0.1, decay_epochs=(), power=2):
    """Per-iteration rate of the official ImageNet recipe: a linear warm-up from ``warmup_lr`` to
    ``base_lr`` over ``warmup_epochs``, then GluonCV's ``mode`` schedule (step, poly, cosine,
    linear, constant) down to 0; returns ``lr_at(epoch, batch_index)``.

    Parameters
    ----------
    mode : str
        GluonCV LRScheduler mode after the warm-up.
    base_lr : float
        Rate at the end of the warm-up.
    num_epochs : int
        Length of the whole schedule.
    iters_per_epoch : int
        Batches per epoch, taken from the data (the official script hard-coded ImageNet's).
    warmup_epochs : int
        Epochs of linear warm-up.
    warmup_lr : float
        Rate at the start of the warm-up.
    decay, decay_epochs : float, list of int
        Step mode: factor and epochs (counted from the start of training).
    power : float
        Poly mode exponent.
    """
    from gluoncv.utils import LRScheduler, LRSequential
    for phase, epochs in (('warm-up', warmup_epochs), ('schedule after warm-up',
                                                       num_epochs - warmup_epochs)):
        if epochs and epochs * iters_per_epoch < 2:  # GluonCV divides by the length - 1
            raise BadInput('the %s is %d iteration(s) long (%d epoch(s) of %d batch(es)); it '
                             'needs at least 2: more data, a smaller batch or more epochs'
                             % (phase, epochs * iters_per_epoch, epochs, iters_per_epoch))
    schedule = LRSequential([
        LRScheduler('linear', base_lr=warmup_lr, target_lr=base_lr, nepochs=warmup_epochs,
                    iters_per_epoch=iters_per_epoch),
        LRScheduler(mode, base_lr=base_lr, target_lr=0, nepochs=num_epochs - warmup_epochs,
                    iters_per_epoch=iters_per_epoch,
                    step_epoch=[e - warmup_epochs for e in decay_epochs], step_factor=decay,
                    power=power),
    ])

    def lr_at(epoch, batch_index):
        # the optimizer counts updates from 1, and the official script's scheduler saw that count
        return schedule(epoch * iters_per_epoch + batch_index + 1)
    return lr_at


@dataclass(frozen=True)
class StepSchedule:
    """train_cifar.py's schedule: :func:`step_schedule`, set once per epoch."""

    base_lr: float
    decay: float
    decay_epochs: Tuple[int, ...]

    def lr_at(self, iters_per_epoch: int) -> LrAt:
        by_epoch = step_schedule(self.base_lr, self.decay, self.decay_epochs)
        return lambda epoch, batch: by_epoch(epoch)


@dataclass(frozen=True)
class WarmupSchedule:
    """train_imagenet.py's schedule: :func:`warmup_schedule`, set at every iteration (its
    length in iterations comes from the data)."""

    mode: str
    base_lr: float
    num_epochs: int
    warmup_epochs: int
    warmup_lr: float
    decay: float
    decay_epochs: Tuple[int, ...]

    def lr_at(self, iters_per_epoch: int) -> LrAt:
        """BadInput if the warm-up or the schedule after it is shorter than 2 iterations."""
        return warmup_schedule(self.mode, self.base_lr, self.num_epochs, iters_per_epoch,
                               self.warmup_epochs, self.warmup_lr, self.decay,
                               list(self.decay_epochs))
