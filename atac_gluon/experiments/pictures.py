"""The Fig. 8 report's pictures: the gates of a trained run's ATAC (or SE-style) units on the
first validation image of its data, drawn by :mod:`atac_gluon.visualize` into the run's
directory once the run is finished."""
import os

import mxnet as mx

from ..data.cifar import load_cifar
from ..models.params import load_parameters_checked
from ..data.pipelines import image_input
from ..predict import class_names
from ..training.checkpoint import Checkpoints
from ..visualize import draw_gates, gate_maps, network_view
from .report import GATES_PICTURE
from .train import parse_training_flags

__all__ = ['draw_run_gates']


def draw_run_gates(config, save_dir, flags):
    """Draw ``save_dir/gates.png`` for ``config``'s run (trained with ``flags``) from its best
    checkpoint; runs without ATAC units (ReLU) and runs without a checkpoint get none. Returns
    the path or None. A picture drawn earlier is kept."""
    path = os.path.join(save_dir, GATES_PICTURE)
    if os.path.exists(path):
        return path
    opt, spec = parse_training_flags(config.script, flags)
    if config.script != 'cifar' or opt.act_type != 'ChaATAC':
        return None
    checkpoints = Checkpoints(save_dir, spec.files.checkpoint_prefix, spec.best_stem)
    info = checkpoints.newest_intact(kind='best')
    if info is None:
        return None
    net = spec.model.build()
    net.initialize(ctx=mx.cpu())
    load_parameters_checked(net, checkpoints.path_of(info), 'the best checkpoint', mx.cpu())
    images, labels = load_cifar(opt.dataset, opt.data_dir, train=False,
                                fine_label=opt.fine_label)
    batch = image_input(images[0], opt.dataset)
    prob = mx.nd.softmax(net(mx.nd.array(batch))).asnumpy()[0]
    names = class_names(len(prob), opt.dataset)
    best = int(prob.argmax())
    gates = [gate._replace(gate=gate.gate[0]) for gate in gate_maps(net, batch)]
    title = '%s (epoch %d): validation image 0, label %s\npredicted %s (%.1f%%)' % (
        config.name, info['epoch'], names[int(labels[0])], names[best], 100 * prob[best])
    draw_gates(network_view(batch[0], opt.dataset), gates, path, title)
    return path
