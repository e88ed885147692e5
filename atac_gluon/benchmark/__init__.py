"""``python -m atac_gluon.benchmark``: training and inference speed of ResNet-20 ATAC on the CPU
in every available configuration (MXNet fp32 hybridized/imperative, quantized int8/bf16, AMP
bf16, a real train_cifar run end to end, and optionally the same network in PyTorch), depth
scaling, ATAC against ReLU and ResNet-50; prints a table and writes JSON.

Nothing here imports mxnet or torch: the command sets the OpenMP thread count first, and each
group of configurations runs in a worker process of its own (:mod:`.worker`), started and
watched by :mod:`.supervisor`.
"""
