"""Model registry: factories registered by name, GluonCV-style ``get_model``."""
import inspect
import textwrap
from typing import List

from ..errors import BadInput

__all__ = ['register_model', 'ModelFamily', 'get_model', 'list_models',
           'canonical_name', 'model_factory', 'refuse_pretrained']

_MODELS = {}


def register_model(factory):
    """Register ``factory`` under its ``__name__`` (lower case); returns it unchanged (usable as
    decorator). A factory may carry what the command lines need to know of its family:
    ``input_shape`` (default of export and summary), ``dataset`` (default preprocessing of
    predict) and ``max_act_layers`` (the largest meaningful ``act_layers``)."""
    name = factory.__name__.lower()
    if name in _MODELS:
        raise ValueError('model %r is registered twice' % name)
    _MODELS[name] = factory
    return factory


#: the Parameters section of every registered variant (one per family, filled in by
#: :meth:`ModelFamily.variant`)
_VARIANT_PARAMETERS = """

    Parameters
    ----------
    pretrained : bool
        Must be False: no pretrained ATAC weights are published (BadInput otherwise).
    classes : int, default {classes}
        Number of classes.
    **kwargs
{further}
"""


class ModelFamily:
    """The attributes a family's factories share, and the decorators that give them.

    Decorating the family factory (``@family``) gives it the attributes; decorating a variant
    (``@family.variant``) gives it the attributes too, registers it, and completes its one-line
    docstring with the Parameters section the variants share.

    Parameters
    ----------
    input_shape : tuple of int
        One input batch, N x C x H x W (default of export and summary).
    dataset : str
        Default preprocessing of predict (``'cifar10'``, ``'imagenet'``).
    max_act_layers : int
        The largest meaningful ``act_layers`` of the family.
    """

    def __init__(self, input_shape, dataset, max_act_layers):
        self.input_shape = tuple(input_shape)
        self.dataset = dataset
        self.max_act_layers = max_act_layers
        self.factory = None

    def __call__(self, factory):
        """Mark ``factory`` as the family factory; returns it unchanged otherwise."""
        self.factory = self._mark(factory)
        return factory

    def variant(self, factory):
        """Register ``factory`` (a short function calling the family factory) with the family
        attributes and the shared Parameters section; returns it."""
        if self.factory is None:
            raise ValueError('define the family factory before its variant %s'
                             % factory.__name__)
        if factory.__doc__ is not None:  # None under python -OO
            signature = inspect.signature(self.factory)
            names = [name for name, param in list(signature.parameters.items())[1:]
                     if param.kind is param.POSITIONAL_OR_KEYWORD
                     and name not in ('classes', 'pretrained')]
            further = textwrap.fill('Further :func:`%s` arguments (%s, ...).' % (
                self.factory.__name__, ', '.join(names)), 92, initial_indent=' ' * 8,
                subsequent_indent=' ' * 8)
            factory.__doc__ = factory.__doc__.rstrip() + _VARIANT_PARAMETERS.format(
                classes=inspect.signature(factory).parameters['classes'].default,
                further=further)
        return register_model(self._mark(factory))

    def _mark(self, factory):
        factory.input_shape = self.input_shape
        factory.dataset = self.dataset
        factory.max_act_layers = self.max_act_layers
        return factory


def get_model(name: str, **kwargs):
    """Build the registered model ``name`` (case-insensitive), e.g. ``cifar_resnet20_v2_atac``.

    Parameters
    ----------
    name : str
        Registered model name, see :func:`list_models`.
    **kwargs
        Passed to the model's factory (classes, act_type, r, ...).
    """
    return model_factory(name)(**kwargs)


def canonical_name(name: str) -> str:
    """The registered spelling (lower case) of model ``name``, whatever its case; BadInput
    listing the valid names if there is no such model."""
    key = str(name).lower()
    if key not in _MODELS:
        raise BadInput('unknown model %r; valid: %s' % (name, ', '.join(list_models())))
    return key


def model_factory(name):
    """The factory registered as ``name`` (case-insensitive), with its family attributes."""
    return _MODELS[canonical_name(name)]


def refuse_pretrained(pretrained, name):
    """BadInput for ``pretrained=True``: no ATAC weights are published to download."""
    if pretrained:
        raise BadInput('%s: no pretrained ATAC weights are published (pretrained=True); build '
                       'the model untrained and load a checkpoint with load_parameters, or '
                       'convert a pretrained GluonCV model with from_gluoncv' % name)


def list_models() -> List[str]:
    """Names of all registered models, sorted."""
    return sorted(_MODELS)
