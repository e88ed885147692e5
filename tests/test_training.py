"""The shared training helpers: threads, contexts, schedules, checkpoints, metrics, the loop."""
import hashlib
import io
import json
import logging
import os
import time

import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon

from atac_gluon.training.checkpoint import FORMAT, Checkpoints
from atac_gluon.training.loop import train_epoch
from atac_gluon.training.metrics import MetricsLog
from atac_gluon.errors import BadInput, Diverged
from atac_gluon.training.devices import contexts_from_gpus
from atac_gluon.training.logs import Progress
from atac_gluon.training.schedules import step_schedule
from atac_gluon.training.threads import available_cores, configure_cpu_threads

LOG = logging.getLogger('test')


@pytest.mark.parametrize('argv,env,want', [
    (['--cpu-threads', '3'], {}, 3),
    (['--cpu-threads=5', '--lr', '1'], {'OMP_NUM_THREADS': '1'}, 5),
    ([], {'OMP_NUM_THREADS': '1'}, 1),
    ([], {}, None),
])
def test_cpu_threads(monkeypatch, argv, env, want):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    monkeypatch.delenv('MXNET_USE_OPERATOR_TUNING', raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    got = configure_cpu_threads(argv)
    assert got == (want or available_cores()) == int(os.environ['OMP_NUM_THREADS'])
    assert os.environ['MXNET_USE_OPERATOR_TUNING'] == '0'


def test_operator_tuning_set_by_the_user_is_kept(monkeypatch):
    monkeypatch.setenv('MXNET_USE_OPERATOR_TUNING', '1')
    configure_cpu_threads([])
    assert os.environ['MXNET_USE_OPERATOR_TUNING'] == '1'


def test_contexts_from_gpus_fall_back_to_as_many_cpus():
    assert contexts_from_gpus('0', LOG) == [mx.cpu(0)]
    assert contexts_from_gpus('0,1', LOG) == [mx.cpu(0), mx.cpu(1)]
    assert contexts_from_gpus('', LOG) == [mx.cpu()]
    for bad in ('a', '0,0', '-1'):
        with pytest.raises(BadInput, match='--gpus'):
            contexts_from_gpus(bad, LOG)


def test_step_schedule_is_the_official_one():
    lr = step_schedule(0.2, 0.1, [300, 350])
    assert [lr(e) for e in (0, 299, 300, 349, 350, 399)] == pytest.approx(
        [0.2, 0.2, 0.02, 0.02, 0.002, 0.002])
    assert step_schedule(1.0, 0.5, [])(10) == 1.0


def tiny_net_and_trainer():
    net = gluon.nn.Dense(3, in_units=4)
    net.initialize(mx.init.Xavier())
    trainer = gluon.Trainer(net.collect_params(), 'nag', {'learning_rate': 0.1, 'momentum': 0.9})
    with mx.autograd.record():
        loss = net(mx.nd.ones((2, 4))).sum()
    loss.backward()
    trainer.step(2)  # momentum state exists
    return net, trainer


def test_checkpoints_keep_the_newest_periodic_and_best_and_verify_their_files(tmp_path):
    net, trainer = tiny_net_and_trainer()
    ckpt = Checkpoints(str(tmp_path), 'run', lambda score, epoch: '%.4f-x-%d-best' % (score, epoch))
    best_epoch = {0: 0, 1: 0, 2: 2, 3: 2}
    for epoch, score in ((0, 0.5), (1, 0.4), (2, 0.7), (3, 0.6)):
        best = best_epoch[epoch] == epoch
        ckpt.save_epoch(epoch, net, trainer, {'best_score': max(score, 0.5) if epoch < 2 else 0.7,
                                              'best_epoch': best_epoch[epoch],
                                              'record': {'epoch': epoch}},
                        periodic=epoch == 1, best=best)
    names = sorted(os.listdir(tmp_path))
    # epoch 0 and 2 were neither periodic nor the newest; the best of epoch 0 was superseded
    assert names == sorted(['%s.%s' % (stem, ext) for stem in
                            ('run-3', 'run-1', '0.7000-x-2-best')
                            for ext in ('json', 'params', 'states')])
    # the best shares the epoch's bytes (a hard link where the file system has them)
    manifests = ckpt.scan()
    assert [m['stem'] for m in manifests] == ['run-3', '0.7000-x-2-best', 'run-1']
    assert ckpt.newest_intact()['stem'] == 'run-3'
    assert ckpt.newest_intact(kind='best')['stem'] == '0.7000-x-2-best'
    # a damaged file is found by its size or SHA-256; the next intact checkpoint is taken
    path = tmp_path / 'run-3.params'
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    assert 'run-3.params does not match its SHA-256' in ckpt.verify(manifests[0])
    assert ckpt.newest_intact()['stem'] == '0.7000-x-2-best'
    fresh, fresh_trainer = tiny_net_and_trainer()
    ckpt.restore(ckpt.newest_intact(), fresh, fresh_trainer, mx.cpu())
    np.testing.assert_array_equal(fresh.weight.data().asnumpy(), net.weight.data().asnumpy())
    assert not [n for n in os.listdir(tmp_path) if '.partial.' in n]


def test_manifests_record_sizes_and_hashes_of_their_files(tmp_path):
    net, trainer = tiny_net_and_trainer()
    ckpt = Checkpoints(str(tmp_path), 'run', lambda score, epoch: '%.4f-x-%d-best' % (score, epoch))
    ckpt.save_epoch(0, net, trainer, {'best_score': 0.5, 'best_epoch': 0, 'record': {'epoch': 0}},
                    periodic=False, best=True)
    with open(str(tmp_path / 'run-0.json')) as f:
        info = json.load(f)
    with open(str(tmp_path / 'run-0.params'), 'rb') as f:
        data = f.read()
    assert info['files']['params'] == {'name': 'run-0.params', 'size': len(data),
                                       'sha256': hashlib.sha256(data).hexdigest()}
    assert info['epoch'] == 0 and info['kind'] == 'epoch' and info['format'] == FORMAT


def test_metrics_resume_restores_the_checkpointed_line_and_drops_later_ones(tmp_path):
    log = MetricsLog(str(tmp_path / 'metrics.jsonl'))
    for epoch in range(3):
        log.append({'epoch': epoch, 'val_acc': epoch / 10})
    # died after checkpointing epoch 3 but before its line: the line comes from the checkpoint
    kept = log.resume_at({'epoch': 3, 'val_acc': 0.3})
    assert [r['epoch'] for r in log.records()] == [0, 1, 2, 3] == [r['epoch'] for r in kept]
    # lines of epochs after the checkpoint are redone by the resumed run
    log.resume_at({'epoch': 1, 'val_acc': 0.1})
    assert [r['epoch'] for r in log.records()] == [0, 1]
    with open(log.path) as f:
        assert all(json.loads(line) for line in f)


def test_train_epoch_stops_on_non_finite_loss():
    net, trainer = tiny_net_and_trainer()
    before = net.weight.data().asnumpy().copy()
    batches = [(mx.nd.array([[np.inf, 0, 0, 0], [1, 0, 0, 0]]), mx.nd.array([0, 1]))]
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    with pytest.raises(Diverged, match='loss is (nan|inf) at epoch 4, batch 0'):
        train_epoch(net, trainer, batches, [mx.cpu()], lambda y, t, x: loss(y, t), 4, LOG)
    np.testing.assert_array_equal(net.weight.data().asnumpy(), before)  # no step was taken


def test_train_epoch_splits_batches_across_contexts():
    net = gluon.nn.Dense(2, in_units=3)
    net.initialize(mx.init.Xavier(), ctx=[mx.cpu(0), mx.cpu(1)])
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.1})
    x = mx.nd.array(np.random.RandomState(0).randn(8, 3))
    y = mx.nd.array([0, 1] * 4)
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    stats = train_epoch(net, trainer, [(x, y)], [mx.cpu(0), mx.cpu(1)],
                        lambda out, t, data: loss(out, t), 0, LOG)
    assert stats['samples'] == 8
    # the parameters stay identical on both contexts after the aggregated step
    w0, w1 = (net.weight.data(c).asnumpy() for c in (mx.cpu(0), mx.cpu(1)))
    np.testing.assert_array_equal(w0, w1)


@pytest.mark.parametrize('kvstore', ['device', 'local'])
def test_two_contexts_train_as_one_on_the_same_global_batch(kvstore):
    """Without BatchNorm (whose batch statistics are per context), splitting each batch over
    two contexts gives the parameters one context gives."""
    def trained(ctx):
        mx.random.seed(3)
        net = gluon.nn.HybridSequential()
        net.add(gluon.nn.Dense(16, activation='relu', in_units=5), gluon.nn.Dense(3, in_units=16))
        net.initialize(mx.init.Xavier(), ctx=ctx)
        trainer = gluon.Trainer(net.collect_params(), 'nag', {'learning_rate': 0.1,
                                                             'momentum': 0.9, 'wd': 1e-4},
                                kvstore=kvstore)
        rng = np.random.RandomState(0)
        batches = [(mx.nd.array(rng.randn(8, 5)), mx.nd.array(rng.randint(0, 3, 8)))
                   for _ in range(6)]
        loss = gluon.loss.SoftmaxCrossEntropyLoss()
        train_epoch(net, trainer, batches, ctx, lambda out, t, data: loss(out, t), 0, LOG)
        return [p.data(ctx[0]).asnumpy() for p in net.collect_params().values()]
    for one, two in zip(trained([mx.cpu(0)]), trained([mx.cpu(0), mx.cpu(1)])):
        np.testing.assert_allclose(two, one, rtol=1e-5, atol=1e-6)


def test_progress_logs_plain_lines_when_not_a_terminal(caplog):
    stream = io.StringIO()
    progress = Progress(LOG, total=4, epoch=2, log_interval=2, stream=stream)
    with caplog.at_level(logging.INFO, logger='test'):
        for _ in range(4):
            progress.update(8, 0.5)
    progress.close()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and lines[0].startswith('[Epoch 2] batch 2/4 loss=0.5000 speed=')
    assert stream.getvalue() == ''


def test_progress_draws_a_bar_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True
    stream = Terminal()
    progress = Progress(LOG, total=3, epoch=1, stream=stream)
    for _ in range(3):
        time.sleep(0.15)  # tqdm redraws at most every 0.1 s
        progress.update(8, 0.25)
    progress.close()
    drawn = stream.getvalue()
    assert 'epoch 1' in drawn and '3/3' in drawn and 'loss=0.2500' in drawn


def test_threads_module_sets_the_count_before_mxnet_is_imported():
    import subprocess
    import sys
    code = ('import sys; from atac_gluon.training.threads import configure_cpu_threads; '
            'assert "mxnet" not in sys.modules; print(configure_cpu_threads(["--cpu-threads", "3"]))'
            '; import mxnet')
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(__file__)))
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == '3'
