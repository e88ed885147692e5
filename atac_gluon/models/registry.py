"""Model registry: factories registered by name, GluonCV-style ``get_model``."""

from ..errors import BadInput

__all__ = ['register_model', 'model_family', 'get_model', 'list_models', 'canonical_name',
           'model_factory', 'refuse_pretrained']

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


def model_family(input_shape, dataset, max_act_layers):
    """Decorator giving a factory the attributes of its family (see :func:`register_model`);
    returns the factory unchanged otherwise.

    Parameters
    ----------
    input_shape : tuple of int
        One input batch, N x C x H x W (default of export and summary).
    dataset : str
        Default preprocessing of predict (``'cifar10'``, ``'imagenet'``).
    max_act_layers : int
        The largest meaningful ``act_layers`` of the family.
    """
    def mark(factory):
        factory.input_shape = tuple(input_shape)
        factory.dataset = dataset
        factory.max_act_layers = max_act_layers
        return factory
    return mark


def get_model(name, **kwargs):
    """Build the registered model ``name`` (case-insensitive), e.g. ``cifar_resnet20_v2_atac``.

    Parameters
    ----------
    name : str
        Registered model name, see :func:`list_models`.
    **kwargs
        Passed to the model's factory (classes, act_type, r, ...).
    """
    return model_factory(name)(**kwargs)


def canonical_name(name):
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


def list_models():
    """Names of all registered models, sorted."""
    return sorted(_MODELS)
