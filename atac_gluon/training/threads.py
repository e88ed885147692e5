"""OpenMP thread count for MXNet's CPU kernels, set before mxnet is imported.

MXNet's default leaves half of the cores idle; training uses all of them. MXNet reads
``OMP_NUM_THREADS`` once, when it is imported, so this module must not import mxnet (nor
anything that does).

MXNet's operator tuning (on by default) decides per elementwise kernel whether OpenMP is worth
it, and on small CPUs it mostly says no: ATAC's gate multiply (``elemwise_mul`` and its
backward) then runs on one core. With the tuning off every kernel uses the threads (the README
gives the measured gain). Like the thread count it is read when mxnet is imported; a value in
the environment is kept.
"""
import argparse
import os

__all__ = ['configure_cpu_threads', 'available_cores']


def available_cores():
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def configure_cpu_threads(argv):
    """Set ``OMP_NUM_THREADS`` from ``--cpu-threads N`` in ``argv``, else to the available cores
    unless the environment already sets it; turn MXNet's operator tuning off unless the
    environment sets ``MXNET_USE_OPERATOR_TUNING``. Returns the thread count in effect.

    Parameters
    ----------
    argv : list of str
        The script's arguments; only ``--cpu-threads`` is read here, the script's own parser
        validates it (a bad value is reported there, with the other flags).
    """
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument('--cpu-threads', default=None)
    known, _ = pre.parse_known_args(argv)
    try:
        requested = int(known.cpu_threads) if known.cpu_threads is not None else None
    except ValueError:
        requested = None
    if requested is not None and requested > 0:
        os.environ['OMP_NUM_THREADS'] = str(requested)
    elif 'OMP_NUM_THREADS' not in os.environ:
        os.environ['OMP_NUM_THREADS'] = str(available_cores())
    os.environ.setdefault('MXNET_USE_OPERATOR_TUNING', '0')
    return int(os.environ['OMP_NUM_THREADS'])
