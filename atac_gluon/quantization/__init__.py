"""Low-precision inference graphs for CPUs with oneDNN (MKLDNN): int8 post-training quantization,
bfloat16 mixed precision, and the fused float32 graph they are measured against.

Every mode starts from the network's float32 symbol graph and returns a hybridized
``SymbolBlock`` that takes NCHW float32 ``data`` and returns float32 logits:

* ``'fp32'``: the graph partitioned for the ``MKLDNN`` backend (convolution + BatchNorm +
  activation + residual sum fused, the ATAC gate's sigmoid included), the baseline;
* ``'int8'``: the steps of :func:`mxnet.contrib.quantization.quantize_net_v2` on the
  ``MKLDNN_QUANTIZE`` backend, thresholds calibrated on real batches (min / max by default,
  KL entropy on request). Every convolution is int8, the ATAC unit's 1x1 ones included; the
  gate's sigmoid and the product ``x * gate`` stay float32 (MXNet 1.9.1 has no int8 sigmoid;
  its int8 elemwise_mul takes no uint8 input and, on the default CPU kernels, was slower and
  less exact), with a dequantize / quantize around them;
* ``'bf16'``: :func:`mxnet.contrib.amp.convert_model` to bfloat16 (convolutions and the
  classifier in bfloat16, BatchNorm and pooling in their input's type, what the AMP lists
  name float32 so, and the ATAC gate's product in float32). It needs oneDNN bfloat16 kernels,
  i.e. an AVX-512 CPU.

One rewrite of the float32 graph comes first, :func:`split_conv_fanout`, a fusion bug's repair:
MXNet 1.9.1's MKLDNN partitioner folds a BatchNorm into a convolution whose output also feeds a
residual sum that another fused convolution has already taken, so the shortcut receives the
normalised tensor instead of the raw one. In the pre-activation CIFAR hosts that is the stem
convolution, and the stock ``optimize_for(backend='MKLDNN')`` graph's logits are off by O(1)
(a trained digits ResNet-20: 2.9 on logits of about 10). Giving each consumer of such a
convolution its own copy (the weights shared) makes every fusion exact.

The package holds the graph rewrites (:mod:`.graph`, pure transforms of the graphs' JSON) and
the modes (:mod:`.modes`). What they stand on is in the modules below: the calibration and
validation batches in :mod:`atac_gluon.data.pipelines`, the accuracy in
:mod:`atac_gluon.evaluation`, the bfloat16 probe in :mod:`atac_gluon.onednn`, the files in
:mod:`atac_gluon.deployment`; the names are re-exported here.
"""
from ..data.pipelines import CALIB_DATASETS, calibration_data
from ..deployment import save_block
from ..evaluation import evaluate_accuracy, predict_batches
from ..onednn import bf16_supported, require_bf16
from .graph import (float_layers, fp32_symbol, fuse_int8_gates, graph_ops,
                    split_conv_fanout)
from .modes import (CALIB_MODES, ENTROPY_BINS, FLOAT_OPS, MODES, QUANTIZE_MODES,
                    QUANTIZED_DTYPE, export_quantized, quantize_model)

__all__ = ['MODES', 'CALIB_MODES', 'QUANTIZE_MODES', 'CALIB_DATASETS', 'quantize_model',
           'export_quantized', 'save_block', 'evaluate_accuracy', 'predict_batches',
           'calibration_data', 'fp32_symbol', 'split_conv_fanout', 'float_layers', 'graph_ops',
           'bf16_supported', 'require_bf16', 'fuse_int8_gates', 'FLOAT_OPS', 'ENTROPY_BINS',
           'QUANTIZED_DTYPE']
