"""Learning-rate schedules as pure functions of the position in training, so a resumed run
sets exactly the rate an uninterrupted one would."""
import bisect

__all__ = ['step_schedule']


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
