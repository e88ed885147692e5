#!/usr/bin/env python
"""Train ATAC-ResNet-50 on ImageNet: the official open-atac train_imagenet.py, every flag kept.

The command line lives in the package, atac_gluon/train_imagenet.py (flags, checks, examples); this
file and ``python -m atac_gluon.train_imagenet`` are the same command. ``--help`` lists the flags.
"""
import sys

from atac_gluon.training.threads import configure_cpu_threads

configure_cpu_threads(sys.argv[1:])  # before mxnet is imported

from atac_gluon.errors import run_main  # noqa: E402
from atac_gluon.train_imagenet import main, parse_args  # noqa: E402

__all__ = ['main', 'parse_args']  # tests import the script as a module

if __name__ == '__main__':
    sys.exit(run_main(main))
