"""The one timing method of every configuration, and the check of an output against the fp32
reference. Imports neither framework."""
import statistics
import time

import numpy as np

__all__ = ['TIMING', 'measure', 'compare_outputs']

TIMING = ('img_per_sec = batch / median of the timed iterations\' seconds; `warmup` untimed '
          'iterations first (graph building, oneDNN primitive creation, compilation); each '
          'iteration ends synchronised (mx.nd.waitall() for MXNet, whose engine is '
          'asynchronous; PyTorch on the CPU returns when done); img_per_sec_mean = batch * '
          'iterations / their total seconds. End-to-end: samples_per_sec train_cifar logs for '
          'its last epoch (earlier epochs are the warm-up).')


def measure(step, sync, batch, warmup, iterations):
    """Run ``step(); sync()`` ``warmup`` times untimed, then ``iterations`` times timed one by
    one; return the result fields (img_per_sec from the median)."""
    first = None
    for i in range(warmup):
        tic = time.perf_counter()
        step()
        sync()
        if i == 0:
            first = time.perf_counter() - tic
    times = []
    for _ in range(iterations):
        tic = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - tic)
    median = statistics.median(times)
    total = sum(times)
    return {'img_per_sec': batch / median, 'img_per_sec_mean': batch * len(times) / total,
            'seconds': total, 'median_seconds': median, 'min_seconds': min(times),
            'max_seconds': max(times), 'first_iteration_seconds': first,
            'iterations': iterations, 'warmup': warmup}


def compare_outputs(output, reference):
    """How far ``output`` (N x classes logits) is from the fp32 ``reference`` on the benchmark
    batch: top-1 agreement and the largest difference relative to the reference's range. The
    weights are untrained and the inputs random: a numerical check, not a test accuracy."""
    output = np.asarray(output, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    scale = float(np.abs(reference).max()) or 1.0
    return {'top1_agreement': float(np.mean(output.argmax(1) == reference.argmax(1))),
            'max_abs_diff': float(np.abs(output - reference).max()),
            'max_rel_diff': float(np.abs(output - reference).max() / scale)}
