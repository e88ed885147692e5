"""Distributed training on MXNet's parameter server: each worker's share of the data, and
train_cifar.py under ``python -m atac_gluon.launch`` (2 workers, 1 server, loopback)."""
import os
import re
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon

from atac_gluon.data.batches import BatchIterator
from atac_gluon.errors import BadInput
from atac_gluon.training.distributed import distributed_kvstore, start_distributed
from tests.helpers.scripts import ROOT, offline_env, records, run


def shares(parts, n=103, batch=4, epoch=3):
    """The sample labels each of ``parts`` workers trains on in ``epoch``."""
    data = np.zeros((n, 1, 2, 2), np.float32)
    labels = np.arange(n)
    seen = []
    for index in range(parts):
        batches = BatchIterator(data, labels, batch, shuffle=True, seed=5, part=(index, parts))
        batches.set_epoch(epoch)
        seen.append([int(v) for _, y in batches for v in y.asnumpy()])
    return seen


def test_workers_share_an_epoch_equally_and_disjointly():
    one, = shares(1)
    two = shares(2)
    assert len(two[0]) == len(two[1]) == 48  # 103 // 2 = 51 samples: 12 batches of 4 each
    assert not set(two[0]) & set(two[1])
    # the shares are taken from the same permutation the single process draws
    whole = BatchIterator(np.zeros((103, 1, 2, 2), np.float32), np.arange(103), 103,
                          shuffle=True, seed=5)
    whole.set_epoch(3)
    order = [int(v) for _, y in whole for v in y.asnumpy()]
    assert two[0] == order[0::2][:48] and two[1] == order[1::2][:48]
    assert one == order[:100]  # one worker: as before (25 batches of 4)
    with pytest.raises(ValueError, match='part'):
        BatchIterator(np.zeros((4, 1, 2, 2), np.float32), np.arange(4), 2, part=(2, 2))


def test_dist_kvstores_need_the_launcher_and_async_is_refused(monkeypatch):
    monkeypatch.delenv('DMLC_ROLE', raising=False)
    assert distributed_kvstore('device') == ('device', 0, 1)
    with pytest.raises(BadInput, match='python -m atac_gluon.launch'):
        distributed_kvstore('dist_sync')
    with pytest.raises(BadInput, match='dist_async'):
        distributed_kvstore('dist_async')


def test_parameters_reach_the_kvstore_before_the_first_step():
    """MXNet's Trainer would pull the initial values inside its first step, racing that step's
    gradient pushpull (a worker then trained from weight = gradient sum). start_distributed
    leaves nothing for that path, deferred parameters included. Checked on a local kvstore of
    two contexts (the same Trainer path); the race itself needs the parameter server (the
    two-worker tests compare the workers' parameters)."""
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Conv2D(4, 3), gluon.nn.Dense(3, in_units=144))  # the convolution deferred
    ctx = [mx.cpu(0), mx.cpu(1)]
    net.initialize(mx.init.Xavier(), ctx=ctx)
    net[1].weight.list_data()[1][:] = 7  # a context that disagrees: the first one's must win
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.1},
                            kvstore='local', update_on_kvstore=False)
    start_distributed(net, trainer, (1, 3, 8, 8), 'float32', ctx)
    assert trainer._kv_initialized and trainer._params_to_init == []
    assert net[0].weight.shape == (4, 3, 3, 3)
    for param in net.collect_params().values():
        first, second = param.list_data()
        assert np.array_equal(first.asnumpy(), second.asnumpy()), param.name
    assert (net[1].weight.data(ctx[1]).asnumpy() != 7).all()


DIGITS = ['--dataset', 'digits', '--blocks', '1', '--useReLU', '--mode', 'hybrid', '-j', '0',
          '--lr', '0.1', '--cpu-threads', '1', '--seed', '2']


def launch(tmp_path, args, timeout=240):
    env = dict(offline_env(tmp_path), OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, '-m', 'atac_gluon.launch', '-n', '2', '-s', '1', '--',
                           sys.executable, os.path.join(ROOT, 'train_cifar.py')] + args,
                          cwd=str(tmp_path), env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
def test_two_workers_train_as_one_process_and_resume(tmp_path):
    out = tmp_path / 'dist'
    args = DIGITS + ['--kvstore', 'dist_sync', '--batch-size', '32', '--save-dir', str(out),
                     '--save-plot-dir', str(out)]
    proc = launch(tmp_path, args + ['--num-epochs', '2'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout + proc.stderr
    assert 'worker 0 of 2 (dist_sync)' in text and 'worker 1 of 2 (dist_sync)' in text
    assert '22 batches of 32 per epoch on each of 2 workers' in text
    digests = set(re.findall(r'worker \d trained parameters: sha256 (\w+)', text))
    assert len(digests) == 1, text[-2000:]  # both workers hold the same trained parameters
    lines = records(out)
    assert [r['epoch'] for r in lines] == [0, 1]  # rank 0 alone writes
    assert all(r['dist_workers'] == 2 for r in lines)
    assert text.count('results in') == 1
    # the same global batch (2 x 32) in one process learns as much
    single = tmp_path / 'single'
    proc = run('train_cifar.py', DIGITS + ['--batch-size', '64', '--num-epochs', '2',
                                           '--save-dir', str(single),
                                           '--save-plot-dir', str(single)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    # not exactly: BatchNorm sees batches of 32, not 64, and the two epochs' results move by
    # 0.1-0.15 with the CPU's oneDNN kernels (ISA); chance is 0.1
    assert lines[-1]['val_acc'] > 0.5 and records(single)[-1]['val_acc'] > 0.5
    assert abs(records(single)[-1]['val_acc'] - lines[-1]['val_acc']) < 0.25
    # --resume continues the distributed run from rank 0's checkpoint on every worker
    proc = launch(tmp_path, args + ['--num-epochs', '3', '--resume'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout + proc.stderr
    assert text.count('resumed from digits-ResNet20_b_1_ChaATAC-1 (epoch 1 done') == 2
    assert len(set(re.findall(r'trained parameters: sha256 (\w+)', text))) == 1
    assert [r['epoch'] for r in records(out)] == [0, 1, 2]


@pytest.mark.slow
def test_two_workers_read_their_recordio_parts(tmp_path, rec_data):
    """train_imagenet.py on RecordIO parts, with the other synchronous kvstore."""
    out = tmp_path / 'r50'
    env = dict(offline_env(tmp_path), OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, '-m', 'atac_gluon.launch', '-n', '2', '-s', '1', '--', sys.executable,
         os.path.join(ROOT, 'train_imagenet.py')] + rec_data + [
            '--input-size', '32', '--batch-size', '4', '-j', '1', '--num-epochs', '2',
            '--kvstore', 'dist_device_sync', '--cpu-threads', '1', '--r', '2', '--lr-mode',
            'cosine',
            '--warmup-epochs', '1', '--log-interval', '0', '--save-dir', str(out)],
        cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout + proc.stderr
    # 20 records in 2 parts of 10: 2 full batches of 4 on each worker, the same count
    assert text.count('20 training samples, 3 classes, 2 batches of 4 per epoch on each of 2 '
                      'workers') == 2
    assert len(set(re.findall(r'trained parameters: sha256 (\w+)', text))) == 1
    assert [(r['epoch'], r['dist_workers']) for r in records(out)] == [(0, 2), (1, 2)]


def test_image_folder_shares_are_equal_disjoint_and_seeded_alike():
    from atac_gluon.data.imagenet import PartSampler
    np.random.seed(11)
    first = list(PartSampler(23, 0, 2))
    np.random.seed(11)
    second = list(PartSampler(23, 1, 2))
    np.random.seed(11)
    order = np.random.permutation(23)
    assert len(first) == len(second) == len(PartSampler(23, 0, 2)) == 11
    assert first == order[0::2][:11].tolist() and second == order[1::2][:11].tolist()
    assert not set(first) & set(second)
