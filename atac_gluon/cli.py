"""What the command lines share (``train_*.py``, ``python -m atac_gluon[.export|.predict]``):
the flags that choose a model (a registered one, or a GluonCV network converted as the training
scripts' ``--model NAME`` converts it), and loading a model with a checkpoint from them.
The training scripts' own shared flags are in :mod:`atac_gluon.training.flags`."""
import argparse
import os
from dataclasses import dataclass
from typing import Any, Dict, Tuple

import mxnet as mx

from .checks import check_numbers, int_range
from .errors import BadInput
from .models import canonical_name, get_model, list_models, model_factory
from .models.cifar import cifar_family
from .models.imagenet import imagenet_family
from .models.params import load_parameters_checked
from .training.flags import ACT_DEFAULTS

__all__ = ['add_model_flags', 'check_model_flags', 'model_from_flags', 'load_model',
           'parse_shape', 'default_input_shape', 'model_choice', 'ModelChoice', 'MODEL_FLAGS']

#: the flags of :func:`add_model_flags`: a checkpoint that does not fit names those that fix it
MODEL_FLAGS = ('--model', '--classes', '--act-type', '--r', '--act-layers', '--useReLU',
               '--useGlobal')


@dataclass(frozen=True)
class ModelChoice:
    """What ``--model NAME`` names: a registered model, or a GluonCV classification network
    converted by :func:`atac_gluon.conversion.zoo_model` with the defaults of the script that
    trains it (``cifar_*``: train_cifar.py's; the others: train_imagenet.py's), so that a
    checkpoint of ``train_*.py --model NAME`` loads with the same act flags as it was trained
    with."""
    name: str
    converted: bool
    input_shape: Tuple[int, ...]
    dataset: str                 # default preprocessing of predict and visualize
    max_act_layers: int
    defaults: Dict[str, Any]     # of the act flags and classes, for a converted network


#: a converted GluonCV network by the script that trains it: the family of that script's own
#: host (input shape, preprocessing, largest --act-layers) and the classes; its act flags'
#: defaults are ACT_DEFAULTS[script]
_CONVERTED = {'cifar': (cifar_family, 10), 'imagenet': (imagenet_family, 1000)}


def model_choice(name) -> ModelChoice:
    """The :class:`ModelChoice` of ``--model name`` (any case); BadInput listing the valid
    names if ``name`` is neither registered nor a GluonCV classification model."""
    from .conversion import zoo_names
    key = str(name).lower()
    try:
        factory = model_factory(key)
    except BadInput:
        pass
    else:
        return ModelChoice(canonical_name(key), False, factory.input_shape, factory.dataset,
                           factory.max_act_layers, {})
    for script, (family, classes) in _CONVERTED.items():
        if key in zoo_names(script):
            return ModelChoice(key, True, family.input_shape, family.dataset,
                               family.max_act_layers, dict(ACT_DEFAULTS[script], classes=classes))
    raise BadInput('--model: unknown model %r; valid: a registered model (%s) or a GluonCV '
                   'classification model name (%s)' % (name, ', '.join(list_models()), ', '.join(
                       zoo_names('cifar') + zoo_names('imagenet'))))


def add_model_flags(parser):
    """The flags that choose a model and its variant (defaults: the zoo's, or for a converted
    GluonCV network those of the training script: see :class:`ModelChoice`)."""
    parser.add_argument('--model', required=True, metavar='NAME',
                        help='registered model (%s) or a GluonCV classification model name, '
                             'converted as train_cifar.py (cifar_* names: r 2, act layers 4, '
                             'no inner ReLU) or train_imagenet.py (the others: r 4, act layers '
                             '2, inner ReLU) --model NAME converts it' % ', '.join(list_models()))
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


def check_model_flags(args) -> ModelChoice:
    """Check the flags of :func:`add_model_flags` and every other numeric flag of ``args`` by
    the shared table; sets ``args.model`` to the registered (lower-case) name and returns its
    :class:`ModelChoice`. BadInput names the first bad flag."""
    choice = model_choice(args.model)
    args.model = choice.name
    check_numbers(args, {'act_layers': int_range(0, choice.max_act_layers)})
    return choice


def model_from_flags(args):
    """The uninitialized model the flags of :func:`add_model_flags` describe."""
    from .conversion import zoo_model
    choice = check_model_flags(args)
    kwargs = {name: getattr(args, name) for name in
              ('classes', 'act_type', 'r', 'act_layers', 'useReLU', 'useGlobal')
              if getattr(args, name) is not None}
    if not choice.converted:
        return get_model(args.model, **kwargs)
    return zoo_model(args.model, input_shape=choice.input_shape,
                     **dict(choice.defaults, **kwargs))


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
    """Input shape of one image for model ``model`` (any case, see :func:`model_choice`):
    1,3,32,32 for the CIFAR families, 1,3,224,224 for ImageNet."""
    return model_choice(model).input_shape
