"""The gates of every ATAC unit for images, one PNG per image::

    python -m atac_gluon.visualize --model cifar_resnet20_v2_atac --params best.params \
        --dataset digits a.png b.png --out gates

The gate is the sigmoid output of ``ChaATAC.module``, the attention multiplied into the unit's
input. ``<out>/<image name>-gates.png`` shows the input image, then one row per stage (the
structural name, e.g. ``features.2`` or ``layer3``; the CIFAR final activation is the row
``final``) with the stage's units in order: a local unit as a per-pixel map (the gate averaged
over channels, or channel ``--channel K``) on one colour scale shared by every map (fitted to
the maps, or 0..1 with ``--full-scale``), a global unit (``--useGlobal``, one gate per channel)
as a bar chart of its channels.
"""
import argparse
import collections
import math
import os
import sys

import mxnet as mx
import numpy as np
from mxnet.gluon import nn

from .activations import ChaATAC
from .checks import NON_NEGATIVE_INT, check_output_dir
from .cli import add_model_flags, check_model_flags, load_model
from .data.pipelines import input_normalization
from .errors import BadInput, WriteFailed, run_main
from .files import atomic_write
from .predict import add_image_flags, class_names, read_batch

__all__ = ['Gate', 'atac_units', 'gate_maps', 'check_channel', 'network_view', 'color_range',
           'draw_gates', 'main']

#: one ATAC unit's gate: stage (row label), name (``layer3.0 relu1``), gate (numpy array,
#: (N x) C x H x W, 1 x 1 when is_global) and is_global (the unit's ``useGlobal``)
Gate = collections.namedtuple('Gate', 'stage name gate is_global')
#: panels per figure row; a longer stage continues on the next rows
MAX_COLUMNS = 8
CMAP = 'viridis'


def atac_units(net):
    """(stage, name, unit) of every :class:`~atac_gluon.activations.ChaATAC` of ``net`` in
    structural order.

    A unit inside a block (``features.2.0.msAA1``, ``layer3.0.relu1``) belongs to the stage that
    holds the block (``features.2``, ``layer3``) and is named ``<stage>.<block> <child>``; a unit
    standing directly in a sequence (the CIFAR final activation ``features.6``) is its own stage,
    ``final`` when it is the last unit.

    Parameters
    ----------
    net : mxnet.gluon.Block
        The network.
    """
    found, sequences = [], (nn.Sequential, nn.HybridSequential)

    def walk(block, path):
        for key, child in block._children.items():
            if isinstance(child, ChaATAC):
                found.append((path + (key,), isinstance(block, sequences), child))
            else:
                walk(child, path + (key,))
    walk(net, ())
    units = []
    for index, (path, alone, unit) in enumerate(found):
        if alone or len(path) < 3:
            stage = 'final' if index == len(found) - 1 else '.'.join(path)
            units.append((stage, '.'.join(path), unit))
        else:
            units.append(('.'.join(path[:-2]), '%s %s' % ('.'.join(path[:-1]), path[-1]), unit))
    return units


def gate_maps(net, batch):
    """The gate of every ATAC unit of ``net`` for ``batch``, captured by forward hooks on each
    unit's sigmoid. ``net`` is made imperative (``hybridize(False)``) so that the hooks fire.

    Parameters
    ----------
    net : mxnet.gluon.Block
        The network (a host of :mod:`atac_gluon.models`), on the CPU.
    batch : numpy.ndarray
        N x 3 x H x W network input (see :func:`atac_gluon.data.pipelines.image_input`).

    Returns
    -------
    list of Gate
        In structural order, gates of shape N x C x H x W (N x C x 1 x 1 for global units).
    """
    units = atac_units(net)
    if not units:
        raise BadInput('no ATAC unit in the model (act-type ChaATAC in no stage): no gate to draw')
    captured = {}
    handles = [unit.module[-1].register_forward_hook(
        lambda block, inputs, output, key=name: captured.__setitem__(key, output.asnumpy()))
        for _, name, unit in units]
    net.hybridize(False)
    try:
        net(mx.nd.array(batch))
    finally:
        for handle in handles:
            handle.detach()
    return [Gate(stage, name, captured[name], unit.useGlobal) for stage, name, unit in units]


def network_view(x, dataset):
    """The network input ``x`` (3 x H x W, preprocessed for ``dataset`` by
    :func:`~atac_gluon.data.pipelines.image_input`) as the H x W x 3 RGB image in [0, 1] it was
    made from (after the resize and crop), for display."""
    mean, std = input_normalization(dataset)
    if dataset != 'digits':  # per channel
        mean, std = np.reshape(mean, (3, 1, 1)), np.reshape(std, (3, 1, 1))
    return np.clip(x * std + mean, 0, 1).transpose(1, 2, 0)


def check_channel(gates, channel):
    """BadInput naming ``--channel`` unless every unit of ``gates`` has channel ``channel``
    (None: the channel mean, always fine)."""
    for gate in gates:
        count = gate.gate.shape[-3]
        if channel is not None and not 0 <= channel < count:
            raise BadInput('--channel %d: unit %s has %d channels (0 to %d)'
                           % (channel, gate.name, count, count - 1))


def _shown(gate, channel):
    """The H x W map drawn for a local unit: channel ``channel`` or the channel mean."""
    return gate.gate[channel] if channel is not None else gate.gate.mean(axis=0)


def _draw_map(ax, gate, channel, cmap, norm):
    shown = _shown(gate, channel)
    ax.imshow(shown, cmap=cmap, norm=norm, interpolation='nearest')
    ax.set_xticks([])
    ax.set_yticks([])
    what = 'ch %d mean' % channel if channel is not None else 'mean'
    return '%dx%d, %s %.3f' % (shown.shape[0], shown.shape[1], what, shown.mean())


def _draw_bars(ax, gate, channel, cmap, norm):
    values = gate.gate[:, 0, 0]
    bars = ax.bar(np.arange(len(values)), values, width=1.0, color=cmap(norm(values)),
                  linewidth=0)
    ax.set_ylim(0, 1)
    ax.set_xlim(-0.5, len(values) - 0.5)
    ax.set_yticks([0, 0.5, 1])
    ax.set_xticks([0, len(values) - 1])
    ax.tick_params(labelsize=7, length=2, pad=1)
    if channel is not None:
        bars[channel].set_color('red')
        return 'ch %d %.3f, mean %.3f' % (channel, values[channel], values.mean())
    return 'mean %.3f' % values.mean()


def color_range(gates, channel=None, full_scale=False):
    """(low, high) of the colour scale of the maps: 0..1, or with ``full_scale`` off the 1st to
    99th percentile of all local maps' values (at least 0.02 wide)."""
    local = [_shown(gate, channel) for gate in gates if not gate.is_global]
    if full_scale or not local:
        return 0.0, 1.0
    low, high = np.percentile(np.concatenate([m.ravel() for m in local]), [1, 99])
    if high - low < 0.02:  # a flat map: widen around it
        low, high = max(0.0, low - 0.01), min(1.0, high + 0.01)
    return float(low), float(high)


def draw_gates(image, gates, path, title, channel=None, full_scale=False):
    """Draw ``image`` and the gates of one image as a PNG ``path``: one row per stage (longer
    stages wrap after :data:`MAX_COLUMNS` units), maps on one colour scale shared by every unit
    with one colour bar, bars (0..1) for global units.

    Parameters
    ----------
    image : numpy.ndarray
        RGB H x W x 3 image, uint8 or floats in [0, 1] (e.g. :func:`network_view`).
    gates : list of Gate
        Of one image: gates of shape C x H x W (see :func:`gate_maps`).
    path : str
        PNG file to write (its directory must exist).
    title : str
        Figure title.
    channel : int, optional
        Draw this channel of every local unit (and mark it on the bars) instead of the mean.
    full_scale : bool
        Colour scale 0..1 (the sigmoid's range). By default it spans the 1st to 99th
        percentile of all the maps' values: channel means sit close to 0.5, and on 0..1 their
        structure would not show. Either way one scale serves every unit.

    Returns
    -------
    list of str
        The panel of each gate: ``'bars'`` (global unit) or ``'map'`` (local unit).
    """
    check_channel(gates, channel)
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    stages = collections.OrderedDict()
    for gate in gates:
        stages.setdefault(gate.stage, []).append(gate)
    columns = max(2, min(MAX_COLUMNS, max(len(units) for units in stages.values())))
    rows = 1 + sum(math.ceil(len(units) / columns) for units in stages.values())
    fig = plt.figure(figsize=(1.8 * columns + 1.2, 2.0 * rows + 0.5), layout='constrained')
    grid = fig.add_gridspec(rows, columns)
    cmap = plt.get_cmap(CMAP)
    low, high = color_range(gates, channel, full_scale)
    norm = matplotlib.colors.Normalize(low, high, clip=True)
    ax = fig.add_subplot(grid[0, 0])
    ax.imshow(image)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title('network input %dx%d' % image.shape[:2], fontsize=9)
    kinds, panels, row = [], [], 1
    for stage, units in stages.items():
        for index, gate in enumerate(units):
            ax = fig.add_subplot(grid[row + index // columns, index % columns])
            panels.append(ax)
            draw = _draw_bars if gate.is_global else _draw_map
            summary = draw(ax, gate, channel, cmap, norm)
            kinds.append('bars' if gate.is_global else 'map')
            ax.set_title('%s, %dch\n%s' % (gate.name, gate.gate.shape[0], summary), fontsize=8)
            if index == 0:
                ax.set_ylabel(stage, fontsize=10, fontweight='bold',
                              labelpad=2 if gate.is_global else 6)
        row += math.ceil(len(units) / columns)
    fig.colorbar(plt.cm.ScalarMappable(norm, cmap), ax=panels, shrink=min(1.0, 4.0 / rows),
                 aspect=30, label='gate (sigmoid)%s' % (
                     '' if (low, high) == (0.0, 1.0) else ', scale fitted to the maps'))
    fig.suptitle(title, fontsize=11, wrap=True)
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format='png', dpi=100))
    except OSError as err:
        raise WriteFailed('cannot write %s (%s)' % (path, err.strerror)) from None
    finally:
        plt.close(fig)
    return kinds


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m atac_gluon.visualize',
                                     description='Draw the gates of every ATAC unit for images.')
    add_model_flags(parser)
    add_image_flags(parser)
    parser.add_argument('--full-scale', action='store_true',
                        help='colour scale 0..1 (default: fitted to the maps, shared by all)')
    parser.add_argument('--channel', type=int, default=None, metavar='K',
                        help='draw channel K of every local unit instead of the channel mean')
    parser.add_argument('--out', required=True, metavar='DIR',
                        help='directory of the PNGs, <image name>-gates.png (created)')
    args = parser.parse_args(argv)
    check_model_flags(args)  # also --input-size, --crop-ratio
    if args.channel is not None:
        NON_NEGATIVE_INT.check('--channel', args.channel)
    check_output_dir(args.out, '--out')
    outputs = [os.path.join(args.out, os.path.splitext(os.path.basename(path))[0] + '-gates.png')
               for path in args.images]
    for index, output in enumerate(outputs):
        if output in outputs[:index]:
            raise BadInput('%s and %s would both be drawn to %s'
                           % (args.images[outputs.index(output)], args.images[index], output))
    dataset, batch = read_batch(args)
    net = load_model(args)
    prob = mx.nd.softmax(net(mx.nd.array(batch))).asnumpy()
    names = class_names(prob.shape[1], dataset, args.classes_file)
    for i, (path, output) in enumerate(zip(args.images, outputs)):
        gates = [gate._replace(gate=gate.gate[0]) for gate in gate_maps(net, batch[i:i + 1])]
        if i == 0:  # every image has the same units: checked before anything is written
            check_channel(gates, args.channel)
            os.makedirs(args.out, exist_ok=True)
        best = int(prob[i].argmax())
        title = '%s: %s\npredicted %s (%.1f%%)' % (args.model, os.path.basename(path),
                                                    names[best], 100 * prob[i, best])
        draw_gates(network_view(batch[i], dataset), gates, output, title, args.channel,
                   args.full_scale)
        print(output)


def entry():
    """Console entry point."""
    sys.exit(run_main(main))


if __name__ == '__main__':
    entry()
