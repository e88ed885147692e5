"""Normalisation layers the official flags select."""
from gluoncv.nn import GroupNorm as _GluonCVGroupNorm

__all__ = ['GroupNorm']


class GroupNorm(_GluonCVGroupNorm):
    r"""GluonCV's GroupNorm (``--use-gn``; per-channel ``gamma``/``beta``, so GluonCV's
    ``resnet*_v1b_gn`` weights load) computed with MXNet's GroupNorm operator.

    GluonCV's own forward reads the input's shape and context, so it cannot be hybridized; this
    one can, with the same parameters and outputs.

    Parameters
    ----------
    ngroups : int, default 32
        Number of groups.
    in_channels : int
        Number of channels (divisible by ``ngroups``).
    epsilon : float, default 1e-5
        Variance epsilon.
    beta_initializer, gamma_initializer, scale
        As in GluonCV.
    """

    def hybrid_forward(self, F, x, gamma, beta):
        y = F.GroupNorm(x, F.ones(shape=(self.ngroups,)), F.zeros(shape=(self.ngroups,)),
                        num_groups=self.ngroups, eps=self._kwargs['eps'])
        per_channel = (1, -1, 1, 1)
        if self.scale:
            y = F.broadcast_mul(y, F.reshape(gamma, shape=per_channel))
        return F.broadcast_add(y, F.reshape(beta, shape=per_channel))
