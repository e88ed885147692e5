"""Parameters of the ATAC models: reading a checkpoint, telling how it differs from a model (with
the flags that would build the model it fits), and initialization that keeps loaded values.

A checkpoint is compared by its structural names and shapes (``save_parameters`` files), the
layout the hosts share with the official code: ChaATAC units are ``<unit>.module.<i>.*`` whose
indices give the inner ReLU and global pooling, the stages are ``features.<2..4>.<block>``
(CIFAR) or ``layer<1..4>.<block>`` (ResNet-v1b), the classifier ``output`` or ``fc``.
"""
import os
import re

import mxnet as mx
from mxnet import initializer

from ..errors import BadInput, error_reason
from .registry import list_models

__all__ = ['read_parameters', 'describe_mismatch', 'load_parameters_checked', 'InitializeMissing']

# indices of the parameterised layers of a ChaATAC unit's module -> (useGlobal, useReLU):
# [pool] conv BN [relu] conv BN sigmoid
_UNIT_LAYOUTS = {(0, 1, 3, 4): (False, True), (0, 1, 2, 3): (False, False),
                 (1, 2, 4, 5): (True, True), (1, 2, 3, 4): (True, False)}
_ATAC_PARAM = re.compile(r'^(?P<unit>.+)\.module\.(?P<index>\d+)\.\w+$')
_PRELU_PARAM = re.compile(r'^(?P<unit>.+)\.alpha$')
_STAGE = re.compile(r'^(features\.\d+|layer\d+)\.(\d+)\.')
_GROUP = re.compile(r'^(features\.\d+|layer\d+)')
_CLASSIFIERS = ('output.weight', 'fc.weight')
_V1B_DEPTHS = {(2, 2, 2, 2): 18, (3, 4, 6, 3): 34}  # basic blocks; bottlenecks below
_V1B_BOTTLENECK_DEPTHS = {(3, 4, 6, 3): 50, (3, 4, 23, 3): 101, (3, 8, 36, 3): 152}


def read_parameters(path, what):
    """The ``{name: NDArray}`` of a parameters file; BadInput starting with ``what`` (e.g.
    ``--params x.params``) if it is not one (unreadable, truncated, unnamed arrays, empty)."""
    try:
        saved = mx.nd.load(path)
    except mx.base.MXNetError:
        raise BadInput('%s: not an MXNet parameters file, or truncated' % what) from None
    if not isinstance(saved, dict) or not saved:
        raise BadInput('%s: holds %s, not named parameters' % (
            what, 'nothing' if not saved else '%d unnamed arrays' % len(saved)))
    return saved


def _same_shape(declared, saved):
    """Whether ``saved`` fits ``declared``, whose unknown dimensions are 0 (or None: all)."""
    if not declared:
        return True
    return len(declared) == len(saved) and all(d in (0, s) for d, s in zip(declared, saved))


def _units(shapes):
    """{unit prefix: ('ChaATAC', (useGlobal, useReLU) or None) or ('prelu', None)}."""
    indices, units = {}, {}
    for name in shapes:
        match = _ATAC_PARAM.match(name)
        if match:
            indices.setdefault(match.group('unit'), set()).add(int(match.group('index')))
            continue
        match = _PRELU_PARAM.match(name)
        if match:
            units[match.group('unit')] = ('prelu', None)
    for unit, found in indices.items():
        units[unit] = ('ChaATAC', _UNIT_LAYOUTS.get(tuple(sorted(found))))
    return units


def _atac_r(shapes, unit):
    """Reduction ratio of a ChaATAC unit, from its first 1x1 convolution (inter x channels)."""
    convs = sorted((int(m.group('index')), shapes[name]) for name in shapes
                   for m in [_ATAC_PARAM.match(name)]
                   if m and m.group('unit') == unit and name.endswith('.weight')
                   and len(shapes[name]) == 4)
    if not convs or not convs[0][1][0] or not convs[0][1][1]:
        return None
    inter, channels = convs[0][1][0], convs[0][1][1]
    r = channels // inter
    return r if r and channels // r == inter else None


def _depths(shapes):
    """{stage: blocks} from the highest block index of each stage."""
    depths = {}
    for name in shapes:
        match = _STAGE.match(name)
        if match:
            stage, block = match.group(1), int(match.group(2))
            depths[stage] = max(depths.get(stage, 0), block + 1)
    return depths


def _model_of_depths(depths, shapes):
    """The registered model name of stage ``depths`` (and ``shapes``), if there is one."""
    stages = [depths[s] for s in sorted(depths, key=lambda s: int(re.sub(r'\D', '', s)))]
    if all(s.startswith('features') for s in depths) and len(set(stages)) == 1:
        name = 'cifar_resnet%d_v2_atac' % (6 * stages[0] + 2)
    elif all(s.startswith('layer') for s in depths):
        bottleneck = any(n.startswith('layer1.0.conv3.') for n in shapes)
        depth = (_V1B_BOTTLENECK_DEPTHS if bottleneck else _V1B_DEPTHS).get(tuple(stages))
        name = 'resnet%d_v1b_atac' % depth if depth else None
    else:
        name = None
    return name if name in list_models() else None


def _fixes(expected, saved):
    """{flag: value} that would build a model the file fits, as far as the file tells."""
    fixes = {}
    ours, theirs = _units(expected), _units(saved)
    kinds = lambda units: {kind for kind, _ in units.values()}  # noqa: E731
    if ours and not theirs:
        fixes['--act-type'] = 'relu'
    elif theirs and kinds(theirs) != kinds(ours) and len(kinds(theirs)) == 1:
        fixes['--act-type'] = kinds(theirs).pop()
    elif theirs and set(theirs) != set(ours):
        groups = {m.group(1) for m in map(_GROUP.match, theirs) if m}
        if {m.group(1) for m in map(_GROUP.match, ours) if m} != groups:
            fixes['--act-layers'] = len(groups)
    for unit in sorted(set(ours) & set(theirs)):
        (kind, layout), (their_kind, their_layout) = ours[unit], theirs[unit]
        if kind != 'ChaATAC' or their_kind != 'ChaATAC' or not layout or not their_layout:
            continue
        if their_layout[1] != layout[1]:
            fixes['--useReLU'] = their_layout[1]
        if their_layout[0] != layout[0]:
            fixes['--useGlobal'] = their_layout[0]
        r, their_r = _atac_r(expected, unit), _atac_r(saved, unit)
        if their_r and r and their_r != r:
            fixes['--r'] = their_r
        break
    depths, their_depths = _depths(expected), _depths(saved)
    if their_depths and set(their_depths) == set(depths) and their_depths != depths:
        values = set(their_depths.values())
        if all(s.startswith('features') for s in depths) and len(values) == 1:
            fixes['--blocks'] = values.pop()
        name = _model_of_depths(their_depths, saved)
        if name:
            fixes['--model'] = name
    for name in _CLASSIFIERS:
        if name in expected and name in saved and len(saved[name]) == 2 \
                and not _same_shape(expected[name], saved[name]) \
                and _same_shape(expected[name][1:], saved[name][1:]):
            fixes['--classes'] = saved[name][0]
    return fixes


def _spell(flag, value):
    if isinstance(value, bool):
        return flag if value else '--no-' + flag[2:]
    return '%s %s' % (flag, value)


def _shape(shape):
    return 'x'.join(str(d) for d in shape) if shape else '?'


def describe_mismatch(net, saved, hint_flags=None):
    """How the parameters ``saved`` ({name: NDArray or shape}) differ from those of ``net``, in
    one line: the first difference, then the flags of a model the file fits (those of
    ``hint_flags``; default all but ``--model``); None if they fit (names and known shapes).
    Files of exported (prefixed) names are not compared here: None."""
    shapes = {name: tuple(getattr(value, 'shape', value)) for name, value in saved.items()}
    if not any('.' in name for name in shapes):
        return None  # MXNet's legacy layout (export's -0000.params): load_parameters decides
    params = net._collect_params_with_prefix()
    aliases = {}
    for name, param in params.items():
        aliases.setdefault(param, []).append(name)
    expected = {name: tuple(param.shape or ()) for name, param in params.items()}
    missing = [name for name, param in params.items()
               if not any(alias in shapes for alias in aliases[param])]
    extra = [name for name in shapes if name not in params]
    wrong = [name for name in expected
             if name in shapes and not _same_shape(expected[name], shapes[name])]
    if not (missing or extra or wrong):
        return None
    first = next((name for name in expected if name in missing or name in wrong), None)
    if first in wrong:
        text = '%s is %s in the file, %s in the model' % (
            first, _shape(shapes[first]), _shape(expected[first]))
    elif first is not None:
        text = '%s is not in the file' % first
    else:
        text = 'the file has %s, which the model has not' % extra[0]
    others = len(missing) + len(extra) + len(wrong) - 1
    if others:
        text += ' (and %d more difference%s)' % (others, 's' if others > 1 else '')
    if not set(expected) & set(shapes):
        return text + '; no name in common: a file of another architecture'
    fixes = _fixes(expected, shapes)
    allowed = set(hint_flags) if hint_flags is not None else set(fixes) - {'--model'}
    spelled = [_spell(flag, value) for flag, value in fixes.items() if flag in allowed]
    if spelled:
        text += '; the file fits %s' % ' '.join(spelled)
    return text


class InitializeMissing:
    """``initialize`` that initializes the parameters not initialized yet and leaves loaded ones
    alone without a warning per parameter (MXNet warns "already initialized" for each), e.g.
    after :func:`~atac_gluon.models.from_gluoncv` copied a GluonCV model's parameters.
    ``force_reinit=True`` re-initializes all, as in MXNet."""

    def initialize(self, init=initializer.Uniform(), ctx=None, verbose=False,
                   force_reinit=False):
        if verbose:
            init.set_verbosity(verbose=verbose)
        for param in self.collect_params().values():
            if force_reinit or param._data is None:  # pylint: disable=protected-access
                param.initialize(None, ctx, init, force_reinit=force_reinit)


def load_parameters_checked(net, path, flag, ctx, hint_flags=None, cast_dtype=False):
    """``net.load_parameters(path)``, with a file that is not a parameters file or does not fit
    the network reported as one BadInput line naming ``flag`` and ``path``: the first difference
    and the flags of the model the file fits (those in ``hint_flags``, e.g. the flags the command
    has; default: all that can be inferred but ``--model``). ``cast_dtype`` casts each value to
    the dtype of the network's parameter (a float16 checkpoint into a float32 network)."""
    what = '%s %s' % (flag, path)
    if not os.path.isfile(path):
        raise BadInput('%s: no such file' % what)
    problem = describe_mismatch(net, read_parameters(path, what), hint_flags)
    if problem:
        raise BadInput('%s does not fit the model: %s' % (what, problem))
    try:
        net.load_parameters(path, ctx=ctx, cast_dtype=cast_dtype, dtype_source='current')
    except (AssertionError, ValueError, mx.base.MXNetError) as err:
        # what the names and shapes do not show, e.g. a float16 file for a float32 model
        raise BadInput('%s does not fit the model: %s' % (what, error_reason(err))) from None
