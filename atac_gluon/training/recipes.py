"""The ImageNet recipe's training tricks, as the official script applies them: label smoothing,
mixup, knowledge distillation, no weight decay on BatchNorm and biases."""
import numpy as np
from mxnet import autograd, gluon, nd

__all__ = ['batch_preparation', 'classification_loss', 'no_weight_decay_on_bn_and_bias']

SMOOTHING_ETA = 0.1


def _one_hot(label, classes, eta):
    return label.one_hot(classes, on_value=1 - eta + eta / classes, off_value=eta / classes)


def batch_preparation(classes, dtype='float32', mixup=False, mixup_alpha=0.2, mixup_off_epoch=0,
                      num_epochs=0, label_smoothing=False):
    """``prepare(data, label, epoch)`` -> (data, target) for the training loop.

    With mixup, each batch is mixed with itself reversed, ``lam ~ Beta(alpha, alpha)`` (from
    NumPy's per-epoch seeded generator), and the targets likewise; mixup is off in the last
    ``mixup_off_epoch`` epochs. Label smoothing spreads ``eta = 0.1`` over all classes. The data
    is cast to the network's ``dtype``.

    Parameters
    ----------
    classes : int
        Number of classes (dense targets).
    dtype : str
        The network's data type.
    mixup, mixup_alpha, mixup_off_epoch, num_epochs, label_smoothing
        The official flags of the same names.
    """
    eta = SMOOTHING_ETA if label_smoothing else 0.0

    def prepare(data, label, epoch):
        if mixup:
            lam = np.random.beta(mixup_alpha, mixup_alpha)
            if epoch >= num_epochs - mixup_off_epoch:
                lam = 1.0
            data = lam * data + (1 - lam) * data[::-1]
            target = (lam * _one_hot(label, classes, eta)
                      + (1 - lam) * _one_hot(label[::-1], classes, eta))
        elif label_smoothing:
            target = _one_hot(label, classes, eta)
        else:
            target = label
        return data.astype(dtype, copy=False), target
    return prepare


def classification_loss(dense_targets, teacher=None, temperature=20.0, hard_weight=0.5,
                        dtype='float32'):
    """``loss(output, target, data)`` for the training loop: softmax cross-entropy, or with a
    ``teacher`` GluonCV's distillation loss against ``softmax(teacher(data) / temperature)``.

    Parameters
    ----------
    dense_targets : bool
        Targets are distributions (mixup, label smoothing) rather than class indices.
    teacher : Block, optional
        Teacher network (its forward pass is not recorded for autograd).
    temperature, hard_weight : float
        Distillation parameters (official flags ``--temperature``, ``--hard-weight``).
    dtype : str
        The networks' data type; losses are computed in float32.
    """
    sparse = not dense_targets
    if teacher is None:
        loss = gluon.loss.SoftmaxCrossEntropyLoss(sparse_label=sparse)

        def plain(output, target, data):
            return loss(output.astype('float32', copy=False), target)
        return plain

    from gluoncv.loss import DistillationSoftmaxCrossEntropyLoss
    loss = DistillationSoftmaxCrossEntropyLoss(temperature=temperature, hard_weight=hard_weight,
                                               sparse_label=sparse)

    def distilled(output, target, data):
        with autograd.pause():
            soft = nd.softmax(teacher(data.astype(dtype, copy=False)).astype('float32')
                              / temperature)
        return loss(output.astype('float32', copy=False), target, soft)
    return distilled


def no_weight_decay_on_bn_and_bias(net):
    """``--no-wd``: no weight decay on BatchNorm's gamma/beta and on biases (returns count)."""
    params = net.collect_params('.*beta|.*gamma|.*bias')
    for param in params.values():
        param.wd_mult = 0.0
    return len(params.keys())
