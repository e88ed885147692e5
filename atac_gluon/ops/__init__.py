"""MXNet operators of our own, built from the C++ sources beside this file with MXNet's external
operator interface (``include/mxnet/lib_api.h`` and ``src/lib_api.cc``, which the wheel ships)
and loaded with :func:`mxnet.library.load`. One library holds them all:

- ``atac_int8_gate`` (``atac_int8_gate.cc``): the ATAC gate ``x * sigmoid(g)`` of an int8 graph
  in one pass over int8 data (see :func:`atac_gluon.quantization.fuse_int8_gates`);
- ``atac_gate`` (``atac_gate.cc``): the same gate in float32 with its gradient, one pass each,
  for training and inference (see :func:`atac_gluon.activations.set_fused_gates`).

The library is compiled on first use with ``$CXX`` (default ``g++``), ``-O3 -march=native``
(for this machine's vector units), into a cache directory keyed by the sources, MXNet's
version, the compiler command and this CPU's flags: ``$ATAC_GLUON_OPS_CACHE`` or
``~/.cache/atac_gluon/ops``. A graph that uses an operator needs the library loaded before the
graph is (``atac_gluon.ops.load()``, or ``mx.library.load`` of the copy an export writes beside
it).
"""
import hashlib
import os
import shlex
import subprocess

from ..cpuinfo import cpu_flags
from ..errors import BadInput
from ..files import write_durably

__all__ = ['SOURCES', 'build', 'load', 'library_path']

SOURCES = tuple(os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
                for name in ('atac_int8_gate.cc', 'atac_gate.cc'))
LIBRARY_NAME = 'libatac_ops.so'
# -fno-trapping-math lets GCC vectorize atac_gate's exp (a float-to-int conversion); NaN and
# infinity keep their meaning (unlike -ffast-math)
FLAGS = ['-shared', '-fPIC', '-std=c++14', '-O3', '-march=native', '-fopenmp',
         '-fno-trapping-math']

_loaded = {}


def _mxnet_dir():
    import mxnet
    return os.path.dirname(os.path.abspath(mxnet.__file__))


def _compiler():
    return shlex.split(os.environ.get('CXX') or 'g++')


def library_path():
    """Where this machine's build of the library is (or will be)."""
    import mxnet
    sources = []
    for path in SOURCES:
        with open(path, 'rb') as f:
            sources.append(f.read())
    key = hashlib.sha256(b'\0'.join(sources + [
        mxnet.__version__.encode(), ' '.join(_compiler() + FLAGS).encode(),
        ' '.join(sorted(cpu_flags())).encode()])).hexdigest()[:16]
    cache = os.environ.get('ATAC_GLUON_OPS_CACHE') or os.path.join(
        os.path.expanduser('~'), '.cache', 'atac_gluon', 'ops')
    return os.path.join(cache, key, LIBRARY_NAME)


def build():
    """Compile the library unless this machine's build exists; return its path. BadInput
    (with the compiler's message) when it cannot be built."""
    path = library_path()
    if os.path.exists(path):
        return path
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as err:
        raise BadInput('cannot build the atac_gluon operator library in %s: %s (set '
                       'ATAC_GLUON_OPS_CACHE to a writable directory)' % (folder, err))
    mxnet_dir = _mxnet_dir()

    def compile_to(staged):
        command = _compiler() + FLAGS + list(SOURCES) + [
            os.path.join(mxnet_dir, 'src', 'lib_api.cc'), '-I', os.path.join(mxnet_dir, 'include'),
            '-o', staged]
        try:
            proc = subprocess.run(command, capture_output=True, text=True)
        except OSError as err:
            raise BadInput('cannot build the atac_gluon operator library: %s: %s (install a C++ '
                           'compiler or set CXX)' % (command[0], err.strerror))
        if proc.returncode != 0:
            raise BadInput('cannot build the atac_gluon operator library: %s failed: %s'
                           % (' '.join(command[:1]), proc.stderr.strip()[-800:]))
    try:
        # a partial name of its own: processes building at once each rename a whole library
        write_durably(path, compile_to, unique=True)
    except BaseException:
        try:
            os.rmdir(folder)  # a failed build leaves no empty directory either
        except OSError:
            pass
        raise
    return path


def load(path=None):
    """Load the operator library into this process (once; building it first if needed) and
    return its path: ``path`` (a copy an export wrote) or this machine's build."""
    if _loaded:  # its operator is registered for the whole process
        return next(iter(_loaded))
    path = os.path.abspath(path) if path else build()
    import mxnet as mx
    try:
        mx.library.load(path, verbose=False)
    except mx.base.MXNetError as err:
        raise BadInput('cannot load the operator library %s: %s'
                       % (path, str(err).strip().splitlines()[-1]))
    _loaded[path] = True
    return path
