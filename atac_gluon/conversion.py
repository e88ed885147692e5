"""Put ATAC (or another activation of the table) in place of the ReLUs of any Gluon network.

:func:`convert` works on the network's own blocks and keeps them (no SymbolBlock), so the result
stays inspectable, hybridizes, saves and loads parameters under structural names, exports and is
counted by :func:`atac_gluon.summary` like the built-in hosts. It finds two kinds of ReLU:

* **child blocks** -- ``nn.Activation('relu')``, the ``act`` child that ``Dense`` / ``Conv2D``
  build for ``activation='relu'``, and ReLU6 blocks (``gluoncv.nn.ReLU6``, MobileNet v2): the new
  unit takes the child's structural name (``layer3.0.relu1``, ``features.2``, ``features.0.act``);
* **functional calls** in a ``hybrid_forward`` -- ``F.Activation(x, act_type='relu')`` and
  ``F.relu(x)``, as in GluonCV's ResNet v1/v2 and CIFAR blocks, where no child exists to swap.
  The new units become children of that block named ``relu_call0``, ``relu_call1``, ... in call
  order (parameters ``<block>.relu_call<i>.*``), and the block's class is swapped for a subclass
  (same name) whose ``hybrid_forward`` runs the original one with a thin proxy of ``F``: its
  ``Activation(..., act_type='relu')`` / ``relu`` calls the next unit.

Channels come from one symbolic shape pass at ``input_shape`` (the same proxy, recording).

Rules
-----
* ChaATAC is a 1x1-convolution unit over (N, C, H, W) feature maps: a ReLU whose input is not
  4-D (a classifier's (N, C) vector, as in VGG) keeps its ReLU, with a log line, and is reported
  with ``replaced=False``. The elementwise act types (prelu with one shared alpha, elu, selu, gelu,
  swish, relu) replace ReLUs of any shape.
* ReLU6 blocks count as ReLUs (MobileNet v2 has no other activation); ``relu6=False`` keeps them.
  A functional ``F.clip(x, 0, 6)`` outside a ReLU6 block is not recognised.
* A ReLU block, or a block with functional ReLU calls, that runs more than once per forward pass
  (one block shared by several places) keeps its ReLUs, with a log line: the places may differ in
  channels and a shared ReLU has no parameters to share.
* The network is converted in place and returned; its parameters are the same objects, so their
  values are unchanged. Only the new units are uninitialized: ``net.initialize()`` initializes
  them and leaves the initialized parameters alone (MXNet warns once per such parameter).
* A block's ``hybrid_forward`` that tests ``F is mx.nd`` sees the proxy; such code is not
  supported.

:func:`zoo_model` builds a GluonCV zoo network converted in its last ``act_layers`` stages
(:func:`stage_paths`, :func:`act_layers_where`): the scripts' ``--model NAME``.
"""
import fnmatch
import logging
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import mxnet as mx
from mxnet.gluon import nn
from mxnet.gluon.block import HybridBlock

from .activations import check_act_type, check_count, create_act
from .errors import BadInput, error_reason

__all__ = ['convert', 'ConvertedReLU', 'CALL_PREFIX', 'stage_paths', 'act_layers_where',
           'zoo_names', 'zoo_model']

log = logging.getLogger(__name__)

#: child name of the unit replacing a block's i-th functional ReLU call: ``relu_call<i>``
CALL_PREFIX = 'relu_call'


@dataclass
class ConvertedReLU:
    """One ReLU :func:`convert` selected (``net.atac_conversion`` lists them in call order).

    Attributes
    ----------
    name : str
        Structural path of the unit (``layer3.0.relu1``, ``stage1.0.relu_call0``).
    kind : str
        ``'child'`` (a ReLU block swapped in place) or ``'call'`` (a functional call).
    shape : tuple of int
        Input shape of the ReLU at ``input_shape``.
    channels : int
        ``shape[1]``, the channels given to :func:`~atac_gluon.create_act`.
    replaced : bool
        False where the ReLU was kept (see ``note``).
    note : str
        Why it was kept, or ``'relu6'`` for a replaced ReLU6, else empty.
    """
    name: str
    kind: str
    shape: Tuple[int, ...]
    channels: int
    replaced: bool
    note: str = ''


def _is_relu_block(block, relu6):
    if isinstance(block, nn.Activation):
        return block._act_type == 'relu'  # pylint: disable=protected-access
    # gluoncv.nn.ReLU6 (MobileNet v2) and look-alikes: by class name, GluonCV is optional here
    return relu6 and type(block).__name__ == 'ReLU6'


class _ReluProxy:
    """Stands for ``F`` (mx.nd or mx.sym) in a ``hybrid_forward``: ReLU calls go to ``on_relu``
    (data, original call), everything else to ``F``."""

    def __init__(self, F, on_relu):
        self._F = F
        self._on_relu = on_relu

    def __getattr__(self, name):
        return getattr(self._F, name)

    def Activation(self, data=None, act_type=None, *args, **kwargs):  # pylint: disable=invalid-name
        def original():
            return self._F.Activation(data, act_type, *args, **kwargs)
        if act_type == 'relu' and not args:
            return self._on_relu(data, original)
        return original()

    def relu(self, data=None, *args, **kwargs):
        return self._on_relu(data, lambda: self._F.relu(data, *args, **kwargs))


_CONVERTED_CLASSES = {}


def _converted_class(cls):
    """A subclass of ``cls`` (same name) running ``cls.hybrid_forward`` with the proxy, whose
    i-th ReLU call goes to the child named ``self._atac_calls[i]`` (None: kept as ReLU)."""
    if cls not in _CONVERTED_CLASSES:
        def hybrid_forward(self, F, x, *args, **kwargs):
            calls = iter(self._atac_calls)

            def on_relu(data, original):
                # a call the recording pass did not see (another branch) stays a ReLU
                name = next(calls, None)
                return original() if name is None else getattr(self, name)(data)
            return cls.hybrid_forward(self, _ReluProxy(F, on_relu), x, *args, **kwargs)
        _CONVERTED_CLASSES[cls] = type(cls.__name__, (cls,), {
            'hybrid_forward': hybrid_forward, '__module__': cls.__module__,
            '__doc__': cls.__doc__, '_atac_converted': True})
    return _CONVERTED_CLASSES[cls]


def _walk(block, path=''):
    """(path, parent, key, block) of every block, the first path of a shared one."""
    seen = set()
    stack = [(path, None, None, block)]
    while stack:
        path, parent, key, blk = stack.pop(0)
        if id(blk) in seen:
            continue
        seen.add(id(blk))
        yield path, parent, key, blk
        for name, child in blk._children.items():  # pylint: disable=protected-access
            stack.append(((path + '.' if path else '') + name, blk, name, child))


def _record(net, input_shape, relu6):
    """Run ``net`` symbolically with recording proxies: the ReLUs in call order as
    (block, kind, index in block, input symbol), and how often each block ran."""
    records, runs = [], {}
    blocks = [blk for _, _, _, blk in _walk(net) if isinstance(blk, HybridBlock)]

    def recorder(blk, original_forward):
        index = [0]

        def on_relu(data, original):
            records.append((blk, 'call', index[0], data))
            index[0] += 1
            return original()

        def hybrid_forward(F, x, *args, **kwargs):
            runs[id(blk)] = runs.get(id(blk), 0) + 1
            if _is_relu_block(blk, relu6):
                records.append((blk, 'child', 0, x))
                return original_forward(F, x, *args, **kwargs)
            return original_forward(_ReluProxy(F, on_relu), x, *args, **kwargs)
        return hybrid_forward

    for blk in blocks:
        object.__setattr__(blk, 'hybrid_forward', recorder(blk, blk.hybrid_forward))
    try:
        out = net(mx.sym.var('data'))
    except Exception as err:  # pylint: disable=broad-except
        raise BadInput('convert: %s does not run on one input: %s'
                       % (type(net).__name__, error_reason(err))) from err
    finally:
        for blk in blocks:
            del blk.__dict__['hybrid_forward']
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    try:
        _, shapes, _ = mx.sym.Group([x for *_, x in records] + outs).infer_shape(data=input_shape)
    except Exception as err:  # pylint: disable=broad-except
        raise BadInput('convert: input_shape %s does not fit %s: %s'
                       % (input_shape, type(net).__name__, error_reason(err))) from err
    if shapes is None or any(not s or 0 in s for s in shapes):
        raise BadInput('convert: input_shape %s does not fit %s (shapes left unknown)'
                       % (input_shape, type(net).__name__))
    return [rec[:3] + (tuple(shape),) for rec, shape in zip(records, shapes)], runs


def _check_shape(input_shape):
    if not isinstance(input_shape, (tuple, list)) or not input_shape:
        raise BadInput('convert: input_shape must be a tuple of positive integers, got %r'
                       % (input_shape,))
    return tuple(check_count('input_shape entry', d) for d in input_shape)


def _patterns(where):
    if where is None:
        return None
    patterns = [where] if isinstance(where, str) else list(where)
    if not patterns or not all(isinstance(p, str) for p in patterns):
        raise BadInput('convert: where must be a pattern or a list of patterns (str), got %r'
                       % (where,))
    return patterns


def convert(net: HybridBlock, input_shape: Sequence[int], act_type: str = 'ChaATAC', r: int = 2,
            useReLU: bool = True, useGlobal: bool = False,
            where: Optional[Union[str, Sequence[str]]] = None, *,
            relu6: bool = True) -> HybridBlock:
    r"""Replace the ReLUs of ``net`` by ``create_act(act_type, channels, r, useReLU, useGlobal)``.

    See the module's docstring for what counts as a ReLU, the names of the new units and the
    rules (vector ReLUs, ReLU6, shared blocks). ``net`` is converted in place and returned; it
    keeps its parameters (initialized or not), and ``net.initialize()`` then initializes just the
    new units. ``net.atac_conversion`` lists the selected ReLUs (:class:`ConvertedReLU`).

    Parameters
    ----------
    net : HybridBlock
        Any Gluon network with one input, e.g. ``gluoncv.model_zoo.get_model('resnet18_v2')``.
    input_shape : tuple of int
        Shape of one input batch, e.g. ``(1, 3, 224, 224)``; the units' channels are read off
        the shapes the network computes from it.
    act_type : str
        The replacement, one of :data:`atac_gluon.ACT_TYPES`.
    r, useReLU, useGlobal
        ChaATAC's reduction ratio and switches; see :func:`atac_gluon.create_act`.
    where : str or list of str, optional
        ``fnmatch`` patterns on the ReLUs' structural names (``net.atac_conversion`` names, the
        parameter names' prefixes); default all. ``'layer[34].*.relu[12]'`` selects what
        ``act_layers=2`` selects in ResNet50_v1bATAC.
    relu6 : bool
        Whether ReLU6 blocks count as ReLUs.

    Returns
    -------
    HybridBlock
        ``net``, converted.

    Raises
    ------
    BadInput
        ``net`` not a HybridBlock, already converted, or without a ReLU; ``input_shape`` that
        does not fit; ``where`` that matches no ReLU; a bad ``act_type`` or ``r``.
    """
    if not isinstance(net, HybridBlock):
        raise BadInput('convert needs a HybridBlock, got %s' % type(net).__name__)
    check_act_type(act_type)
    if act_type == 'ChaATAC':
        check_count('r', r)
    input_shape = _check_shape(input_shape)
    patterns = _patterns(where)
    places = {id(blk): (path, parent, key) for path, parent, key, blk in _walk(net)}
    if any(getattr(type(blk), '_atac_converted', False) for _, _, _, blk in _walk(net)):
        raise BadInput('convert: %s is converted already' % type(net).__name__)

    records, runs = _record(net, input_shape, relu6)
    if not records:
        raise BadInput('convert: %s has no ReLU' % type(net).__name__)
    named = []
    for blk, kind, index, shape in records:
        path = places[id(blk)][0]
        name = path if kind == 'child' else (path + '.' if path else '') + CALL_PREFIX + str(index)
        named.append((name, blk, kind, index, shape))
    if patterns is not None:
        named = [rec for rec in named if any(fnmatch.fnmatchcase(rec[0], p) for p in patterns)]
        if not named:
            raise BadInput('convert: where=%r matches none of the %d ReLUs of %s (e.g. %s)' % (
                where, len(records), type(net).__name__, places[id(records[0][0])][0] or
                CALL_PREFIX + '0'))

    report, calls = [], {}
    for name, blk, kind, index, shape in named:
        note = ''
        if runs.get(id(blk), 0) > 1:
            note = 'kept: its block runs %d times per forward pass' % runs[id(blk)]
        elif act_type == 'ChaATAC' and len(shape) != 4:
            note = 'kept: ChaATAC needs an (N, C, H, W) input, got %s' % (shape,)
        if note:
            log.info('convert: %s %s', name, note)
        elif kind == 'child' and not isinstance(blk, nn.Activation):
            note = 'relu6'
        report.append(ConvertedReLU(name, kind, shape, shape[1] if len(shape) > 1 else 0,
                                    not note.startswith('kept'), note))
        if not report[-1].replaced:
            continue
        if kind == 'child':
            _, parent, key = places[id(blk)]
            with parent.name_scope():
                unit = create_act(act_type, shape[1], r, useReLU, useGlobal)
            if parent.__dict__.get(key) is blk:
                # Gluon refuses to change a child's type; without the attribute the assignment
                # registers the unit under the same key of _children, at the same position
                delattr(parent, key)
                setattr(parent, key, unit)
            else:  # a Sequential's numbered child
                parent._children[key] = unit  # pylint: disable=protected-access
        else:
            calls.setdefault(id(blk), (blk, {}))[1][index] = shape
    for blk, shapes in calls.values():
        names = [None] * (max(shapes) + 1)
        for index, shape in sorted(shapes.items()):
            names[index] = CALL_PREFIX + str(index)
            if hasattr(blk, names[index]):
                raise BadInput('convert: %s already has an attribute %s'
                               % (type(blk).__name__, names[index]))
            with blk.name_scope():
                setattr(blk, names[index], create_act(act_type, shape[1], r, useReLU, useGlobal))
        object.__setattr__(blk, '_atac_calls', names)
        blk.__class__ = _converted_class(type(blk))
    # cached graphs were traced with the ReLUs
    net.apply(lambda b: b._clear_cached_op() if isinstance(b, HybridBlock) else None)
    net.atac_conversion = report
    return net


def stage_paths(net: HybridBlock) -> List[str]:
    """Structural paths of the stages of a GluonCV-style network, in order: ``layer<i>``
    children (ResNet-v1b), else the ``HybridSequential`` children of ``net.features`` (the
    residual stages; DenseNet's dense blocks and transitions); [] if none."""
    # pylint: disable=protected-access
    layers = [key for key in net._children if key.startswith('layer')]
    if layers:  # ResNet-v1b: layer1 ... layer4
        return layers
    features = getattr(net, 'features', None)
    if not isinstance(features, nn.HybridSequential):
        return []
    return ['features.' + key for key, child in features._children.items()
            if isinstance(child, nn.HybridSequential)]


def act_layers_where(net: HybridBlock, act_layers: int) -> Optional[List[str]]:
    """The ``where`` of :func:`convert` that gives ``act_type`` to the ReLUs of the last
    ``act_layers`` stages (:func:`stage_paths`), as the scripts' ``--act-layers`` for a zoo
    model: None (every ReLU, stem and head too) when ``act_layers`` exceeds the stages or
    the network has none (MobileNet, VGG: the whole network is one stage).

    Raises
    ------
    BadInput
        ``act_layers`` is 0 (nothing to convert).
    """
    check_count('act_layers', act_layers)
    stages = stage_paths(net)
    if act_layers > len(stages) or not stages:  # no stages: the network is one
        return None
    return [path + '.*' for path in stages[len(stages) - act_layers:]]


#: GluonCV model-zoo modules whose networks classify ImageNet (one input, one output)
_IMAGENET_MODULES = frozenset(
    'gluoncv.model_zoo.' + m for m in (
        'alexnet', 'densenet', 'googlenet', 'inception', 'mobilenet', 'mobilenetv3', 'nasnet',
        'resnest', 'resnet', 'resnetv1b', 'resnext', 'residual_attentionnet', 'senet',
        'shufflenet', 'squeezenet', 'vgg', 'xception', 'pruned_resnet.resnetv1b_pruned'))


def zoo_names(dataset: str) -> List[str]:
    """GluonCV's classification model names for ``'cifar'`` (``cifar_*``) or ``'imagenet'``,
    sorted: what the scripts' ``--model`` accepts."""
    from gluoncv.model_zoo.model_zoo import _models  # the zoo's registry: name -> constructor
    if dataset == 'cifar':
        return sorted(n for n in _models if n.startswith('cifar_'))
    return sorted(n for n, f in _models.items()
                  if f.__module__ in _IMAGENET_MODULES and not n.startswith('cifar_'))


def zoo_model(name: str, classes: int, input_shape: Sequence[int], act_type: str = 'ChaATAC',
              r: int = 2, useReLU: bool = True, useGlobal: bool = False, act_layers: int = 99,
              **zoo_kwargs) -> HybridBlock:
    """GluonCV's ``name`` (no pretrained weights, ``classes`` outputs) converted by
    :func:`convert` in its last ``act_layers`` stages (see :func:`act_layers_where`; 0 keeps
    the ReLUs). The scripts' ``--model NAME`` builds its network with it.

    Parameters
    ----------
    name : str
        A GluonCV classification model name, e.g. ``cifar_resnet56_v1``.
    classes : int
        Outputs of the classifier.
    input_shape : tuple of int
        One input batch, for the channel inference.
    act_type, r, useReLU, useGlobal
        As in :func:`convert`.
    act_layers : int
        Stages, from the last, whose ReLUs are converted; past the stages, all ReLUs.
    **zoo_kwargs
        More arguments of the zoo constructor (e.g. ``drop_rate``).
    """
    from gluoncv.model_zoo import get_model
    check_act_type(act_type)
    check_count('act_layers', act_layers, 0)
    try:
        net = get_model(name, classes=classes, pretrained=False, **zoo_kwargs)
    except ValueError as err:
        raise BadInput('unknown GluonCV model %r: %s' % (name, error_reason(err))) from err
    if act_layers:
        convert(net, input_shape, act_type, r, useReLU, useGlobal,
                where=act_layers_where(net, act_layers))
    return net
