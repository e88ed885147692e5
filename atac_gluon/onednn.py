"""What MXNet's oneDNN (MKLDNN) kernels run on this CPU, beside :mod:`atac_gluon.cpuinfo` (what
the CPU is): the bfloat16 probe of ``--quantize bf16``, :func:`quiet_stderr` for the lines
MXNet's C++ code prints while it probes or transforms a graph, and :func:`settle_weights` before
parameters are read after a forward pass."""
import os
import sys
import tempfile
from contextlib import contextmanager

import mxnet as mx

from .cpuinfo import cpu_flags
from .errors import BadInput

__all__ = ['bf16_supported', 'require_bf16', 'cpu_isa', 'quiet_stderr', 'settle_weights']

_BF16 = {}


def bf16_supported():
    """Whether this CPU runs oneDNN bfloat16 convolutions (MXNet 1.9.1's oneDNN 2.4 needs
    AVX-512; on an AVX2-only CPU creating the primitive fails). Probed once with a small 3x3
    convolution."""
    if 'ok' not in _BF16:
        from mxnet.contrib import amp
        data, weight = mx.sym.var('data'), mx.sym.var('weight')
        sym = mx.sym.Convolution(data, weight, kernel=(3, 3), pad=(1, 1), num_filter=16,
                                 no_bias=True)
        try:
            with quiet_stderr():  # oneDNN's failure is also logged
                bf16, args, _ = amp.convert_model(sym, {'weight': mx.nd.ones((16, 16, 3, 3))},
                                                  {}, target_dtype='bfloat16',
                                                  cast_optional_params=True)
                args = dict(args, data=mx.nd.ones((1, 16, 8, 8)))
                executor = bf16.bind(mx.cpu(), args, grad_req='null')
                executor.forward(is_train=False)[0].wait_to_read()
            _BF16['ok'] = True
        except mx.base.MXNetError:
            _BF16['ok'] = False
    return _BF16['ok']


def require_bf16():
    """BadInput saying why unless :func:`bf16_supported`."""
    if not bf16_supported():
        raise BadInput('bf16: this CPU has no oneDNN bfloat16 convolutions (MXNet 1.9.1\'s '
                       'oneDNN needs AVX-512; the CPU offers %s)' % cpu_isa())


def cpu_isa():
    """The widest x86 vector extension /proc/cpuinfo lists (for messages)."""
    flags = cpu_flags()
    if not flags:
        return 'an unknown instruction set'
    for isa in ('avx512_bf16', 'avx512f', 'avx2', 'avx'):
        if isa in flags:
            return isa.upper().replace('_', '-')
    return 'no AVX'


@contextmanager
def quiet_stderr():
    """Send what MXNet's C++ code writes to stderr (file descriptor 2) to a temporary file
    while the block runs; Python's own ``sys.stderr`` is flushed before and unaffected after."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def settle_weights():
    """Wait for MXNet's pending work before parameters are read or saved after a forward pass.

    An inference-mode oneDNN convolution reorders its weight in place, and a read apparently
    does not wait for that: copies taken right after a pass were seen (in CI, now and then) with
    a third of a weight permuted, and waiting first cured it."""
    mx.nd.waitall()
