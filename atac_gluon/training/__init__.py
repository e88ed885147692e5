"""What both training scripts share: CPU threads, contexts, the epoch loop, checkpoints and
resume, metrics files and plots, errors and exit codes.

Import :mod:`atac_gluon.training.threads` first (it does not import mxnet); the other modules
import mxnet.
"""
