"""Resuming files written the official way (open-atac's train_imagenet.py): float16
parameters, trainer states whose pickled NAG optimizer carries a GluonCV lr_scheduler (and, from
a float16 run, (momentum, master weight) states); bad states or parameter files are BadInput,
exit code 2 from the script."""
import json
import pickle

import mxnet as mx
import numpy as np
import pytest
from gluoncv.utils import LRScheduler, LRSequential
from mxnet import autograd, gluon

import atac_gluon
from atac_gluon.errors import BadInput
from atac_gluon.training.trainer_states import check_trainer_states, load_trainer_states
from atac_gluon.models.params import load_parameters_checked
from atac_gluon.training.schedules import warmup_schedule
from tests.helpers.scripts import run

pytestmark = pytest.mark.slow  # end to end: runs the scripts

SCRIPT = 'train_imagenet.py'


def load_float16(net, path, ctx=None):
    """As train_imagenet.py loads --resume-params: cast to the network's dtype."""
    load_parameters_checked(net, path, '--resume-params', ctx or mx.cpu(), cast_dtype=True)
KWARGS = dict(act_type='ChaATAC', r=2, act_layers=2, layers=[3, 4, 6, 3])
CLASSES, BATCH = 3, 2
# the README recipe's switches at a size a CPU trains in seconds (as tests/test_train_imagenet)
RECIPE = ['--mode', 'hybrid', '--lr', '0.075', '--lr-mode', 'cosine', '--warmup-epochs', '1',
          '--last-gamma', '--no-wd', '--label-smoothing', '--mixup', '--r', '2',
          '--act-layers', '2', '--input-size', '32', '--batch-size', '8', '-j', '1',
          '--save-frequency', '0', '--log-interval', '1']


def tiny_net(classes=CLASSES):
    """The official ImageNet network (README: r 2, act_layers 2) with 3 classes; last_gamma as
    the recipe, which keeps the gradients of a batch of 2 small."""
    net = atac_gluon.ResNet50_v1bATAC(classes=classes, last_gamma=True, **KWARGS)
    net.initialize(mx.init.MSRAPrelu())
    return net


def official_optimizer_params(lr=0.075, iters_per_epoch=3, warmup_epochs=1, num_epochs=2):
    """As the official script: no learning_rate but an LRSequential (linear warm-up, then the
    --lr-mode scheduler), and multi_precision (it is set for --dtype float16)."""
    scheduler = LRSequential([
        LRScheduler('linear', base_lr=0, target_lr=lr, nepochs=warmup_epochs,
                    iters_per_epoch=iters_per_epoch),
        LRScheduler('cosine', base_lr=lr, target_lr=0, nepochs=num_epochs - warmup_epochs,
                    iters_per_epoch=iters_per_epoch, step_epoch=[], step_factor=0.1, power=2)])
    return {'wd': 0.0001, 'momentum': 0.9, 'lr_scheduler': scheduler, 'multi_precision': True}


def our_trainer(net, multi_precision=False):
    """The trainer train_imagenet.py builds."""
    params = {'learning_rate': 0.075, 'wd': 0.0001, 'momentum': 0.9}
    if multi_precision:
        params['multi_precision'] = True
    return gluon.Trainer(net.collect_params(), 'nag', params)


def data_step(net, trainer, ctx=(mx.cpu(),)):
    """One step on random images; returns the gradient of the classifier's weight (summed
    over the contexts)."""
    x = mx.nd.random.uniform(shape=(BATCH * len(ctx), 3, 32, 32))
    y = mx.nd.array(np.arange(BATCH * len(ctx)) % CLASSES)
    xs, ys = gluon.utils.split_and_load(x, ctx), gluon.utils.split_and_load(y, ctx)
    with autograd.record():
        losses = [gluon.loss.SoftmaxCrossEntropyLoss()(net(a), b) for a, b in zip(xs, ys)]
    autograd.backward(losses)
    grad = sum(g.as_in_context(mx.cpu()) for g in net.fc.weight.list_grad())
    trainer.step(BATCH * len(ctx))
    return grad


def weight_step(net, trainer, params=None):
    """A step without convolutions (MXNet's CPU kernels cannot run a float16 network): the
    gradient of sum(w^2) reaches ``params`` (default: all trained ones) in their dtypes."""
    if params is None:
        params = [p for p in net.collect_params().values() if p.grad_req != 'null']
    with autograd.record():
        loss = mx.nd.add_n(*[(p.data().astype('float32') ** 2).sum() for p in params])
    loss.backward()
    trainer.step(BATCH, ignore_stale_grad=True)


def momenta(states):
    """{index: momentum as numpy} of NAG states, plain or (momentum, master weight)."""
    return {i: None if s is None else (s[0] if isinstance(s, tuple) else s).asnumpy()
            for i, s in states.items()}


def read_states(path):
    with open(path, 'rb') as f:
        return pickle.load(f)


@pytest.fixture(scope='module')
def official(tmp_path_factory):
    """Files written as the official script writes them: states of a float32 run; then the
    network cast to float16, states of its multi_precision trainer and save_parameters."""
    root = tmp_path_factory.mktemp('official')
    paths = {k: str(root / name) for k, name in (
        ('states32', 'imagenet-ResNet50_v1b_ChaATAC-0.states'),
        ('params16', '0.2141-imagenet-ResNet50_v1b_ChaATAC-1-best.params'),
        ('states16', '0.2141-imagenet-ResNet50_v1b_ChaATAC-1-best.states'))}
    net = tiny_net()
    trainer = gluon.Trainer(net.collect_params(), 'nag', official_optimizer_params())
    data_step(net, trainer)
    trainer.save_states(paths['states32'])
    net.cast('float16')
    trainer = gluon.Trainer(net.collect_params(), 'nag', official_optimizer_params())
    weight_step(net, trainer)
    net.save_parameters(paths['params16'])
    trainer.save_states(paths['states16'])
    return paths


@pytest.fixture(scope='module')
def net32(official):
    """A float32 network with the float16 file loaded, shared by the tests whose loads fail
    (they change nothing)."""
    net = atac_gluon.ResNet50_v1bATAC(classes=CLASSES, **KWARGS)
    net.initialize(mx.init.MSRAPrelu())
    load_float16(net, official['params16'])
    return net


def test_written_files_have_the_official_layout(official, official_layout):
    layout = official_layout['r50_atac_r2_al2']['parameters']
    saved = mx.nd.load(official['params16'])
    assert set(saved) == set(layout)
    for name, value in saved.items():
        if not name.startswith('fc.'):  # 3 classes here, 1000 in the release
            assert list(value.shape) == layout[name], name
        # float16 but BatchNorm, which MXNet keeps in float32
        batchnorm = name.rsplit('.', 1)[1] in ('gamma', 'beta', 'running_mean', 'running_var')
        assert value.dtype == (np.float32 if batchnorm else np.float16), name
        assert np.isfinite(value.asnumpy()).all(), name
    for key, mp_states in (('states32', False), ('states16', True)):
        states, optimizer = read_states(official[key])
        assert isinstance(optimizer, mx.optimizer.NAG) and optimizer.multi_precision
        assert isinstance(optimizer.lr_scheduler, LRSequential) and optimizer.num_update == 1
        assert any(isinstance(s, tuple) for s in states.values()) == mp_states
        assert all(np.isfinite(m).all() for m in momenta(states).values())


@pytest.mark.parametrize('dtype', ['float32', 'float16'])
def test_float16_parameters_load_into_either_dtype(official, dtype):
    saved = mx.nd.load(official['params16'])
    net = atac_gluon.ResNet50_v1bATAC(classes=CLASSES, **KWARGS)
    net.initialize(mx.init.MSRAPrelu())
    if dtype == 'float16':  # as the official script: cast, then load
        net.cast('float16')
    else:  # as train_imagenet.py: a fresh float32 network, cast after loading
        with pytest.raises(AssertionError, match='dtype incompatible'):
            net.load_parameters(official['params16'])  # what the script did before
    load_float16(net, official['params16'])
    params = net._collect_params_with_prefix()
    assert set(params) == set(saved)
    for name, value in saved.items():
        loaded = params[name].data()
        dtype_now = np.float32 if dtype == 'float32' else value.dtype
        assert loaded.dtype == dtype_now, name
        np.testing.assert_array_equal(loaded.asnumpy(), value.asnumpy().astype(dtype_now))


@pytest.mark.parametrize('states,contexts', [('states16', 1), ('states32', 2)])
def test_official_states_resume_at_our_rate(official, states, contexts):
    ctx = [mx.cpu(i) for i in range(contexts)]
    net = atac_gluon.ResNet50_v1bATAC(classes=CLASSES, **KWARGS)
    net.initialize(mx.init.MSRAPrelu(), ctx=ctx)
    load_float16(net, official['params16'], ctx)
    path = official[states]
    saved, _ = read_states(path)

    plain = our_trainer(net)  # what the script did before: load_states, then the rate fails
    plain.load_states(path)
    with pytest.raises(UserWarning, match='LRScheduler of the optimizer has already been'):
        plain.set_learning_rate(0.01)

    trainer = our_trainer(net)
    check_trainer_states(path, net.collect_params())
    info = load_trainer_states(trainer, path)
    masters = sum(isinstance(s, tuple) for s in saved.values())
    assert info == {'optimizer': 'nag', 'states': len(saved), 'num_update': 1,
                    'dropped_scheduler': True, 'converted': masters}
    assert (states == 'states16') == (masters > 0)
    trainer.set_learning_rate(0.0123)
    assert trainer.learning_rate == 0.0123
    # both of Trainer.load_states' paths: per-context updaters, and the kvstore's updater
    assert bool(trainer._update_on_kvstore) == (contexts == 2)
    updaters = [trainer._kvstore._updater] if contexts == 2 else trainer._updaters
    assert len(updaters) == 1 or contexts == 1
    for updater in updaters:
        assert updater.optimizer is trainer._optimizer and trainer._optimizer.lr_scheduler is None
        # plain float32 momenta (a float16 run's master weights dropped), the file's values
        assert all(isinstance(s, mx.nd.NDArray) and s.dtype == np.float32
                   for s in updater.states.values())
        loaded = momenta(updater.states)
        for i, value in momenta(saved).items():
            np.testing.assert_array_equal(loaded[i], value)

    # one step: NAG from the file's momentum (and wd), at our rate
    fc = net.fc.weight
    weight = fc.data(ctx[0]).copy()
    momentum = mx.nd.array(momenta(saved)[trainer._param2idx[fc.name]])
    grad = data_step(net, trainer, ctx)
    expected = mx.nd.nag_mom_update(weight, grad, momentum, lr=0.0123, wd=0.0001, momentum=0.9,
                                    rescale_grad=1.0 / (BATCH * contexts))
    for data in fc.list_data():
        np.testing.assert_allclose(data.asnumpy(), expected.asnumpy(), rtol=1e-5, atol=1e-7)
    assert trainer._optimizer.num_update == 2


def test_official_states_into_a_float16_run(official):
    net = atac_gluon.ResNet50_v1bATAC(classes=CLASSES, **KWARGS)
    net.initialize(mx.init.MSRAPrelu())
    net.cast('float16')  # as the official script, and ours with --dtype float16 (GPU)
    load_float16(net, official['params16'])
    for states in ('states32', 'states16'):
        trainer = our_trainer(net, multi_precision=True)
        load_trainer_states(trainer, official[states])
        saved = read_states(official[states])[0]
        for i, state in trainer._updaters[0].states.items():
            param = trainer._params[i]
            if np.dtype(param.dtype) == np.float16:  # (momentum, float32 master weight)
                momentum, master = state
                assert master.dtype == np.float32 and momentum.dtype == np.float32
                np.testing.assert_array_equal(momentum.asnumpy(), momenta({0: saved[i]})[0])
                np.testing.assert_array_equal(
                    master.asnumpy(), param.data().asnumpy().astype(np.float32)
                    if states == 'states32' else saved[i][1].asnumpy())  # from the weights
            else:  # BatchNorm: float32, plain
                assert isinstance(state, mx.nd.NDArray) and state.dtype == np.float32
        trainer.set_learning_rate(0.01)
        fc = net.fc.weight  # float16: the multi_precision update runs on the adapted state
        index = trainer._param2idx[fc.name]
        weight = fc.data().copy()
        momentum, master = [a.copy() for a in trainer._updaters[0].states[index]]
        weight_step(net, trainer, [fc])
        expected = mx.nd.mp_nag_mom_update(weight, fc.grad(), momentum, master, lr=0.01,
                                           wd=0.0001, momentum=0.9, rescale_grad=1.0 / BATCH)
        np.testing.assert_array_equal(fc.data().asnumpy(), expected.asnumpy())
        np.testing.assert_array_equal(trainer._updaters[0].states[index][1].asnumpy(),
                                      master.asnumpy())
        assert trainer._optimizer.num_update == 2


def dense_states(path, in_units=4, optimizer='nag', optimizer_params=None):
    """A small model's states file (another model's, or another optimizer's); returns the
    model."""
    net = gluon.nn.Dense(3, in_units=in_units)
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), optimizer,
                            optimizer_params or {'momentum': 0.9})
    with autograd.record():
        net(mx.nd.ones((2, in_units))).sum().backward()
    trainer.step(2)
    trainer.save_states(path)
    return net


def assert_one_line(err, path, message):
    text = str(err)
    assert '\n' not in text and 'Traceback' not in text, text
    assert text.startswith('--resume-') and path in text and message in text, text


@pytest.mark.parametrize('kind,message', [
    ('garbage', 'is not a trainer-states file (Trainer.save_states) or is truncated'),
    ('truncated', 'or is truncated'),
    ('empty', 'is not a trainer-states file'),
    ('a list', 'is not a trainer-states file (Trainer.save_states): it holds a list'),
    ('a smaller model', 'holds optimizer states of 2 parameters; this model trains 269: it '
                        'belongs to another model'),
])
def test_bad_states_files_are_bad_input(official, net32, tmp_path, kind, message):
    path = str(tmp_path / 'bad.states')
    if kind == 'a smaller model':
        dense_states(path)
    else:
        with open(official['states16'], 'rb') as f:
            data = f.read()
        with open(path, 'wb') as f:
            f.write({'garbage': b'not a pickle at all\n' * 20, 'truncated': data[:len(data) // 2],
                     'empty': b'', 'a list': pickle.dumps([1, 2, 3])}[kind])
    with pytest.raises(BadInput) as err:
        check_trainer_states(path, net32.collect_params())
    assert_one_line(err.value, path, message)
    trainer = our_trainer(net32)
    with pytest.raises(BadInput) as err:
        load_trainer_states(trainer, path)
    assert_one_line(err.value, path, message)
    assert trainer._optimizer.lr == 0.075 and not trainer._updaters[0].states  # untouched


@pytest.mark.parametrize('kind,message', [
    ('another model', 'state of shape (3, 4) for parameter dense'),
    ('another optimizer', 'was written for the adam optimizer; this run uses nag'),
    ('deferred shapes', 'the network has parameters of unknown shape'),
])
def test_states_of_another_model_or_optimizer(tmp_path, kind, message):
    path = str(tmp_path / 'other.states')
    if kind == 'another optimizer':
        dense_states(path, in_units=5, optimizer='adam', optimizer_params={'learning_rate': 0.1})
    else:
        dense_states(path)
    # 'deferred shapes': no --resume-params gave the network the states belong to
    net = gluon.nn.Dense(3, in_units=0 if kind == 'deferred shapes' else 5)
    net.initialize()
    with pytest.raises(BadInput) as err:
        check_trainer_states(path, net.collect_params())
    assert_one_line(err.value, path, message)
    with pytest.raises(BadInput) as err:
        load_trainer_states(our_trainer(net), path)
    assert_one_line(err.value, path, message)


def test_train_imagenet_resumes_the_official_files(official, rec_data, tmp_path):
    out = tmp_path / 'run'
    proc = run(SCRIPT, RECIPE + rec_data + [
        '--resume-params', official['params16'], '--resume-states', official['states16'],
        '--resume-epoch', '1', '--num-epochs', '2', '--save-dir', str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert '3 batches of 8 per epoch' in proc.stderr
    assert "learning-rate scheduler is replaced by this run's schedule" in proc.stderr
    with open(str(out / 'metrics.jsonl')) as f:
        records = [json.loads(line) for line in f if line.strip()]
    assert [r['epoch'] for r in records] == [1]
    lr_at = warmup_schedule('cosine', 0.075, 2, 3, warmup_epochs=1)
    assert records[0]['lr'] == pytest.approx(lr_at(1, 0))
    assert np.isfinite(records[0]['train_loss'])


def test_train_imagenet_refuses_a_garbage_states_file(official, rec_data, tmp_path):
    bad = tmp_path / 'garbage.states'
    bad.write_bytes(b'\x80\x04garbage' * 30)
    out = tmp_path / 'run'
    proc = run(SCRIPT, RECIPE + rec_data + [
        '--resume-params', official['params16'], '--resume-states', str(bad),
        '--resume-epoch', '1', '--num-epochs', '2', '--save-dir', str(out)], tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert 'Traceback' not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith('error:')]
    assert len(errors) == 1 and errors[0].startswith('error: --resume-states %s ' % bad), \
        proc.stderr
    assert not out.exists()
