"""What both training scripts share: the run spec their flags resolve into, the runner, CPU
threads, contexts, the epoch loop, checkpoints and resume, metrics files and plots.

Import :mod:`atac_gluon.training.threads` first (it does not import mxnet); the other modules
import mxnet.
"""
