"""Where PyTorch comes from, and keeping it away from GluonCV.

GluonCV 0.10.5 refuses to import when a PyTorch outside ``>=1.4,<2.0`` is importable: its
``__init__`` imports torch, checks the version and raises RuntimeError ("Legacy torch==2.x
detected"), which breaks ``atac_gluon.models``. So PyTorch 2.x is best installed outside the
project's environment, ``pip install --target DIR torch==2.13.0``, and handed to the benchmark as
``--torch-path DIR`` (or ``ATAC_BENCH_TORCH_PATH``): only the PyTorch workers put DIR on their
path (at the end, so the environment's own packages win). The MXNet workers hide torch before
GluonCV loads (:func:`hide_torch`), so the benchmark runs even with torch in the environment.
"""
import importlib.util
import os
import sys

__all__ = ['TORCH_PATH_ENV', 'default_torch_path', 'add_torch_path', 'find_torch', 'hide_torch',
           'import_torch']

TORCH_PATH_ENV = 'ATAC_BENCH_TORCH_PATH'


def default_torch_path():
    """``$ATAC_BENCH_TORCH_PATH`` or None."""
    return os.environ.get(TORCH_PATH_ENV) or None


def add_torch_path(path):
    """Append ``path`` (a ``pip install --target`` directory) to ``sys.path`` once."""
    if path and path not in sys.path:
        sys.path.append(path)


def find_torch(path=None):
    """None when ``import torch`` would find a package (with ``path`` appended), else the
    reason it would not. Imports nothing."""
    if path and not os.path.isdir(path):
        return 'torch path %s is not a directory' % path
    if sys.modules.get('torch', False) is None:
        return 'torch is hidden in this process'
    saved = list(sys.path)
    try:
        add_torch_path(path)
        found = importlib.util.find_spec('torch') is not None
    finally:
        sys.path[:] = saved
    if found:
        return None
    return ('PyTorch is not installed (optional: pip install --target DIR torch==2.13.0 and '
            'pass --torch-path DIR; installed into the environment it breaks GluonCV\'s import)')


def hide_torch():
    """Make ``import torch`` fail in this process (before GluonCV is imported: GluonCV then
    skips its PyTorch check). Does nothing once torch is imported."""
    if 'torch' not in sys.modules:
        sys.modules['torch'] = None


def import_torch(path=None):
    """``import torch`` with ``path`` appended to ``sys.path``; returns the module."""
    add_torch_path(path)
    import torch
    return torch
