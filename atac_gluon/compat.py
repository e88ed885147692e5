"""MXNet 1.9.1 and GluonCV 0.10.5 on today's Pythons: what they need restored, and only that.

Both were released for Python <= 3.10, NumPy < 1.24 and PyTorch < 2. Three things they rely on
are gone from the environments people use now; :func:`install` puts back each one that is
missing, in this process, at the moment it is needed. No installed file is edited.

1. **NumPy's removed names.** NumPy 1.24 removed the aliases ``np.bool``, ``np.int``,
   ``np.float``, ``np.complex``, ``np.object`` and ``np.str`` (of the Python types), and NumPy 2
   removed ``np.PZERO``, ``np.NINF``, ``np.NaN``, ``np.float_``, ``np.round_``, ``np.alltrue``
   and others (:data:`NUMPY_ALIASES`). MXNet reads many of them at import
   (``mxnet/numpy/utils.py``, ``mxnet/numpy/fallback.py``, its dtype tables) and GluonCV when
   some of its models run (``np.float`` in the Faster R-CNN anchors, ``np.int`` in HRNet). Each
   is set to what the old name meant. MXNet's fallback table also binds the financial functions
   (``np.rate``, ...) and ``np.msort``, which NumPy 2 no longer has: they come back as
   functions that raise, as they did in NumPy 1.20-1.26 (:data:`NUMPY_REMOVED_FUNCTIONS`).
2. **distutils.** Python 3.12 removed it from the standard library; ``import mxnet``
   (``mxnet/numpy_dispatch_protocol.py``) and ``import gluoncv`` (``gluoncv/check.py``) use its
   ``LooseVersion``. setuptools ships the same package (the package depends on setuptools on
   3.12 and later); when ``import distutils`` fails, setuptools' copy is registered under the
   old name.
3. **GluonCV's PyTorch check.** ``gluoncv/__init__.py`` imports torch when it can and raises
   RuntimeError ("Legacy torch==2.x detected") for any torch >= 2.0, although nothing of
   GluonCV's MXNet side uses torch. While GluonCV's own ``__init__`` runs, ``torch`` is hidden
   (an ImportError, which GluonCV takes as "no PyTorch"); afterwards it is importable as before,
   and an already imported torch stays imported.

The fixes run when ``mxnet`` or ``gluoncv`` is first imported (an import hook on
``sys.meta_path``), not when this module is: ``import atac_gluon`` still imports neither NumPy
nor MXNet, so the OpenMP thread count can be set first (``training/threads.py``). A program that
imports mxnet *before* atac_gluon gets no fixes from this module: it fails on NumPy >= 1.24 as
MXNet does; ``import atac_gluon`` (or ``atac_gluon.compat``) first fixes that.
"""
import importlib.abc
import importlib.util
import os
import sys
import warnings
from contextlib import contextmanager

__all__ = ['install', 'restore_numpy_names', 'restore_distutils', 'torch_hidden',
           'NUMPY_ALIASES', 'NUMPY_REMOVED_FUNCTIONS']

#: removed NumPy names that MXNet 1.9.1 or GluonCV 0.10.5 read -> what they meant (a name of
#: the numpy module or a Python builtin's value)
NUMPY_ALIASES = {
    # removed in NumPy 1.24
    'bool': bool, 'int': int, 'float': float, 'complex': complex, 'object': object, 'str': str,
    # removed in NumPy 2.0
    'PZERO': 0.0, 'NZERO': -0.0, 'PINF': float('inf'), 'NINF': float('-inf'),
    'Inf': float('inf'), 'Infinity': float('inf'), 'infty': float('inf'),
    'NaN': float('nan'), 'NAN': float('nan'),
    'float_': 'float64', 'complex_': 'complex128', 'string_': 'bytes_', 'unicode_': 'str_',
    'round_': 'round', 'alltrue': 'all', 'sometrue': 'any', 'product': 'prod',
    'cumproduct': 'cumprod',
}

#: functions MXNet's fallback table binds at import that NumPy 2 has dropped without a successor
#: in NumPy -> where they went
NUMPY_REMOVED_FUNCTIONS = {
    'msort': 'np.sort(a, axis=0)',
    **{name: 'the numpy_financial package' for name in
       ('fv', 'ipmt', 'irr', 'mirr', 'nper', 'npv', 'pmt', 'ppmt', 'pv', 'rate')},
}

_HOOKED = ('mxnet', 'gluoncv')


def _removed(name, successor):
    def removed(*args, **kwargs):
        raise RuntimeError('numpy.%s was removed from NumPy; use %s' % (name, successor))
    removed.__name__ = name
    return removed


def restore_numpy_names(np=None):
    """Set each missing name of :data:`NUMPY_ALIASES` and :data:`NUMPY_REMOVED_FUNCTIONS` on the
    numpy module; returns the names set (none on NumPy < 1.24)."""
    if np is None:
        import numpy as np
    restored = []
    for name, meaning in NUMPY_ALIASES.items():
        if not _has(np, name):
            setattr(np, name, getattr(np, meaning) if isinstance(meaning, str) else meaning)
            restored.append(name)
    for name, successor in NUMPY_REMOVED_FUNCTIONS.items():
        if not _has(np, name):
            setattr(np, name, _removed(name, successor))
            restored.append(name)
    return restored


def _has(module, name):
    # NumPy answers a deprecated name through its module __getattr__, with a warning while it
    # still exists and an AttributeError once it is gone
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        try:
            getattr(module, name)
        except AttributeError:
            return False
    return True


def restore_distutils():
    """Register setuptools' distutils as ``distutils`` when the standard library has none
    (Python >= 3.12); returns True if it did."""
    if 'distutils' in sys.modules or importlib.util.find_spec('distutils') is not None:
        return False
    # setuptools' package itself imports distutils, so its copy is loaded by path, as
    # setuptools' own start-up shim (_distutils_hack) does when its .pth file is processed
    setuptools = importlib.util.find_spec('setuptools')
    folder = setuptools and os.path.join(os.path.dirname(setuptools.origin), '_distutils')
    if not folder or not os.path.isfile(os.path.join(folder, '__init__.py')):
        raise ImportError('MXNet and GluonCV import distutils, which Python %d.%d no longer '
                          'has: pip install setuptools' % sys.version_info[:2])
    spec = importlib.util.spec_from_file_location(
        'distutils', os.path.join(folder, '__init__.py'), submodule_search_locations=[folder])
    module = importlib.util.module_from_spec(spec)
    sys.modules['distutils'] = module
    spec.loader.exec_module(module)
    return True


@contextmanager
def torch_hidden():
    """Within the block ``import torch`` raises ImportError; afterwards ``sys.modules`` holds
    for torch what it held before (the module, or nothing)."""
    saved = {name: module for name, module in sys.modules.items()
             if name == 'torch' or name.startswith('torch.')}
    for name in saved:
        del sys.modules[name]
    sys.modules['torch'] = None
    try:
        yield
    finally:
        if sys.modules.get('torch', False) is None:
            del sys.modules['torch']
        sys.modules.update(saved)


class _FixingLoader(importlib.abc.Loader):
    """Runs a hooked package's own loader with the fixes in place."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        restore_numpy_names()
        restore_distutils()
        if module.__name__ == 'gluoncv':
            with torch_hidden():
                self.loader.exec_module(module)
        else:
            self.loader.exec_module(module)

    def __getattr__(self, name):  # get_resource_reader, is_package, ...: the real loader's
        return getattr(self.loader, name)


class _Hook(importlib.abc.MetaPathFinder):
    """Finds ``mxnet`` and ``gluoncv`` through the other finders and wraps their loader."""

    def find_spec(self, name, path, target=None):
        if name not in _HOOKED:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, 'find_spec'):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _FixingLoader(spec.loader)
                return spec
        return None


def install():
    """Put the hook in front of ``sys.meta_path`` once. If mxnet is already imported, apply the
    NumPy and distutils fixes now (GluonCV may still come)."""
    if not any(isinstance(finder, _Hook) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Hook())
    if 'mxnet' in sys.modules:
        restore_numpy_names()
        restore_distutils()
