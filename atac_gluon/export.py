"""Export of hybridized networks as MXNet symbol graphs (``<prefix>-symbol.json`` +
``<prefix>-0000.params``) whose input is named ``data``."""
import mxnet as mx

__all__ = ['export_symbol']


def export_symbol(net, prefix, input_shape, ctx=None):
    """Hybridize ``net``, run it once on zeros of ``input_shape`` and export it.

    Parameters
    ----------
    net : HybridBlock
        An initialized network.
    prefix : str
        Output path prefix; files are ``<prefix>-symbol.json`` and ``<prefix>-0000.params``.
    input_shape : tuple of int
        Shape of one input batch, e.g. ``(1, 3, 32, 32)``.
    ctx : Context, optional
        Where to run the tracing pass (default CPU).

    Returns
    -------
    (str, str)
        Paths of the symbol file and the parameter file.
    """
    net.hybridize()
    net(mx.nd.zeros(input_shape, ctx=ctx or mx.cpu()))
    net.export(prefix, epoch=0)  # a single input is exported under the name 'data'
    return prefix + '-symbol.json', prefix + '-0000.params'
