"""What the command lines share (``train_*.py``, ``python -m atac_gluon[.export|.predict]``):
the flags that choose a registered model, and loading a model with a checkpoint from them.
The training scripts' own shared flags are in :mod:`atac_gluon.training.flags`."""
import argparse
import os

import mxnet as mx

from .checks import check_numbers, int_range
from .errors import BadInput
from .models import canonical_name, get_model, list_models, model_factory
from .models.params import load_parameters_checked

__all__ = ['add_model_flags', 'check_model_flags', 'model_from_flags', 'load_model',
           'parse_shape', 'default_input_shape', 'MODEL_FLAGS']

#: the flags of :func:`add_model_flags`: a checkpoint that does not fit names those that fix it
MODEL_FLAGS = ('--model', '--classes', '--act-type', '--r', '--act-layers', '--useReLU',
               '--useGlobal')


def add_model_flags(parser):
    """The flags that choose a registered model and its variant (defaults: the zoo's)."""
    parser.add_argument('--model', required=True, metavar='NAME',
                        help='registered model: %s' % ', '.join(list_models()))
    parser.add_argument('--classes', type=int, default=None, help='number of classes')
    parser.add_argument('--act-type', default=None, help='activation (default ChaATAC)')
    parser.add_argument('--r', type=int, default=None, help='ChaATAC reduction ratio')
    parser.add_argument('--act-layers', type=int, default=None,
                        help='stages with act-type (zoo default: 4 for CIFAR, 2 for ImageNet)')
    parser.add_argument('--useReLU', action=argparse.BooleanOptionalAction, default=None,
                        help='ChaATAC inner ReLU (zoo default: on; train_cifar.py: off unless '
                             '--useReLU was given)')
    parser.add_argument('--useGlobal', action=argparse.BooleanOptionalAction, default=None,
                        help='ChaATAC global pooling (default: off)')


def check_model_flags(args):
    """Check the flags of :func:`add_model_flags` and every other numeric flag of ``args`` by
    the shared table; sets ``args.model`` to the registered (lower-case) name. BadInput names
    the first bad flag."""
    try:
        args.model = canonical_name(args.model)
    except BadInput:
        raise BadInput('--model: unknown model %r; valid: %s'
                       % (args.model, ', '.join(list_models()))) from None
    check_numbers(args, {'act_layers': int_range(0, model_factory(args.model).max_act_layers)})


def model_from_flags(args):
    """The uninitialized model the flags of :func:`add_model_flags` describe."""
    check_model_flags(args)
    kwargs = {name: getattr(args, name) for name in
              ('classes', 'act_type', 'r', 'act_layers', 'useReLU', 'useGlobal')
              if getattr(args, name) is not None}
    return get_model(args.model, **kwargs)


def load_model(args, ctx=None):
    """Model from the flags with the parameters of ``args.params`` (BadInput on mismatch)."""
    if not os.path.isfile(args.params):
        raise BadInput('--params %s: no such file' % args.params)
    net = model_from_flags(args)
    load_parameters_checked(net, args.params, '--params', ctx or mx.cpu(), MODEL_FLAGS)
    return net


def parse_shape(text, flag='--input-shape'):
    """``'1,3,32,32'`` -> (1, 3, 32, 32); BadInput naming ``flag`` otherwise."""
    try:
        shape = tuple(int(v) for v in text.split(','))
    except ValueError:
        shape = ()
    if len(shape) != 4 or min(shape) <= 0:
        raise BadInput('%s must be four positive integers N,C,H,W, got %r' % (flag, text))
    return shape


def default_input_shape(model):
    """Input shape of one image for registered model ``model`` (any case): 1,3,32,32 for the
    CIFAR family, 1,3,224,224 for ImageNet."""
    return model_factory(model).input_shape
