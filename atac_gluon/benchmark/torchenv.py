"""Where PyTorch comes from, and keeping it out of the MXNet measurements.

PyTorch may be installed in the project's environment (GluonCV's refusal of torch >= 2 is
undone by :mod:`atac_gluon.compat`) or elsewhere, ``pip install --target DIR torch==2.13.0``,
handed to the benchmark as ``--torch-path DIR`` (or ``ATAC_BENCH_TORCH_PATH``): only the PyTorch
workers put DIR on their path (at the end, so the environment's own packages win). The MXNet
workers hide torch (:func:`hide_torch`), so that its libraries and OpenMP runtime never load
beside MXNet's in a process that is timed.
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
    return ('PyTorch is not installed (optional: pip install torch==2.13.0, or pip install '
            '--target DIR torch==2.13.0 and pass --torch-path DIR)')


def hide_torch():
    """Make ``import torch`` fail in this process. Does nothing once torch is imported."""
    if 'torch' not in sys.modules:
        sys.modules['torch'] = None


def import_torch(path=None):
    """``import torch`` with ``path`` appended to ``sys.path``; returns the module."""
    add_torch_path(path)
    import torch
    return torch
