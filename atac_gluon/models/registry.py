"""Model registry: factories registered by name, GluonCV-style ``get_model``."""

from ..errors import BadInput

__all__ = ['register_model', 'get_model', 'list_models']

_MODELS = {}


def register_model(factory):
    """Register ``factory`` under its ``__name__``; returns it unchanged (usable as decorator)."""
    name = factory.__name__
    if name in _MODELS:
        raise ValueError('model %r is registered twice' % name)
    _MODELS[name] = factory
    return factory


def get_model(name, **kwargs):
    """Build the registered model ``name`` (case-insensitive), e.g. ``cifar_resnet20_v2_atac``.

    Parameters
    ----------
    name : str
        Registered model name, see :func:`list_models`.
    **kwargs
        Passed to the model's factory (classes, act_type, r, ...).
    """
    key = name.lower()
    if key not in _MODELS:
        raise BadInput('unknown model %r; valid: %s' % (name, ', '.join(list_models())))
    return _MODELS[key](**kwargs)


def list_models():
    """Names of all registered models, sorted."""
    return sorted(_MODELS)
