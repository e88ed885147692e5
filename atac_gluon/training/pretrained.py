"""GluonCV pretrained weights and distillation teachers, with local files for offline machines."""
from ..errors import BadInput
from ..models.params import load_parameters_checked

__all__ = ['pretrained_file', 'build_teacher']


def pretrained_file(name, flag):
    """Path of GluonCV's pretrained parameters ``name`` (downloaded if not cached), or BadInput
    naming ``flag`` and the local-file alternative when that cannot be done."""
    from gluoncv.model_zoo.model_store import get_model_file
    try:
        return get_model_file(name)
    except Exception as err:  # no network, a proxy, a bad cache: all mean "give me a file"
        raise BadInput("%s: GluonCV's pretrained %s weights are not cached and could not be "
                       'downloaded (%s: %s); pass a local parameters file with %s-params FILE'
                       % (flag, name, type(err).__name__, str(err).splitlines()[0][:160],
                          '--pretrained' if flag == '--use-pretrained' else '--teacher'))


def build_teacher(name, classes, params_file, ctx):
    """The ``--teacher`` network: a GluonCV or atac_gluon model name, with the parameters of
    ``params_file`` or else GluonCV's pretrained ones.

    Parameters
    ----------
    name : str
        e.g. ``resnet152_v1d`` (GluonCV) or ``resnet50_v1b_atac`` (atac_gluon).
    classes : int
        Classes of the student; the teacher must predict the same.
    params_file : str or None
        Local parameters (``--teacher-params``).
    ctx : list of Context
    """
    from gluoncv.model_zoo import get_model as gluoncv_model
    from ..models import get_model, list_models
    try:
        net = (get_model(name, classes=classes) if name in list_models()
               else gluoncv_model(name, classes=classes))
    except ValueError as err:
        raise BadInput('--teacher %s: %s' % (name, str(err).splitlines()[0][:200]))
    path = params_file or pretrained_file(name, '--teacher')
    load_parameters_checked(net, path, '--teacher-params' if params_file else '--teacher', ctx)
    return net
