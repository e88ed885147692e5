"""The run spec: the official flags of both scripts resolved once (names of files, devices,
periods, the optimizer), and the network built once whatever the data's classes."""
import dataclasses

import mxnet as mx
import pytest

from atac_gluon.train_cifar import parse_args as cifar_args
from atac_gluon.train_imagenet import parse_args as imagenet_args
from atac_gluon.training.spec import cifar_spec, imagenet_spec


def test_cifar_spec_names_files_as_the_official_script(tmp_path):
    spec = cifar_spec(cifar_args(['--dataset', 'digits', '--blocks', '1', '--gpus', '0,1',
                                  '--save-period', '3', '--save-dir', str(tmp_path),
                                  '--save-plot-dir', str(tmp_path / 'plots'), '--mode', 'hybrid',
                                  '--lr', '0.2', '--lr-decay-epoch', '300,350']))
    assert spec.model.name == 'ResNet20_b_1_ChaATAC' and spec.model.classes == 10
    assert spec.files.checkpoint_prefix == 'digits-ResNet20_b_1_ChaATAC'
    assert spec.files.log_name == 'train.log'
    assert spec.files.plot_path == str(tmp_path / 'plots' / 'ResNet20_b_1_ChaATAC_history.png')
    assert spec.best_stem(0.91234, 7) == '0.9123-cifar-ResNet20_b_1_ChaATAC-7-best'
    assert (spec.gpus, spec.save_period, spec.log_interval, spec.hybridize) == ('0,1', 3, 50,
                                                                                 True)
    assert spec.optimizer.params() == {'learning_rate': 0.2, 'wd': 0.0001, 'momentum': 0.9}
    assert spec.schedule.lr_at(10)(300, 0) == pytest.approx(0.02)
    assert spec.identity['dataset'] == 'digits' and spec.flags['blocks'] == 1
    assert spec.score.plot_errors({'train_acc': 0.75, 'val_acc': 0.5}) == [0.25, 0.5]


def test_imagenet_spec_resolves_the_official_renames(tmp_path):
    spec = imagenet_spec(imagenet_args(['--num-gpus', '2', '--save-frequency', '4',
                                        '--logging-file', 'x.log', '--log-interval', '7',
                                        '--dtype', 'float16', '--resume-epoch', '2',
                                        '--save-dir', str(tmp_path), '--input-size', '64']))
    assert (spec.gpus, spec.save_period, spec.log_interval) == ('0,1', 4, 7)
    assert spec.files.log_name == 'x.log'
    assert spec.files.checkpoint_prefix == 'imagenet-ResNet50_v1b_ChaATAC'
    assert spec.files.plot_path == str(tmp_path / 'ResNet50_v1b_ChaATAC_history.png')
    # the best checkpoint carries the top-1 error, as officially
    assert spec.best_stem(0.75, 3) == '0.2500-imagenet-ResNet50_v1b_ChaATAC-3-best'
    assert spec.optimizer.params()['multi_precision'] is True
    assert spec.model.input_shape == (1, 3, 64, 64) and spec.model.classes == 1000
    assert spec.start_epoch == 2
    assert spec.score.plot_errors({'train_acc': 0.75, 'val_top1_err': 0.5}) == [0.25, 0.5]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.dtype = 'float32'


def test_the_network_is_built_once_and_takes_the_datas_classes(tmp_path):
    """The network is built before the data is read (bad model flags are reported first); the
    data's classes then replace its classifier only, with the parameter names the first build
    gave and the shapes of a network built with those classes."""
    spec = imagenet_spec(imagenet_args(['--save-dir', str(tmp_path), '--input-size', '32']))
    net = spec.model.build()
    names = {k: p.name for k, p in net._collect_params_with_prefix().items()}
    assert spec.model.with_classes(net, 1000) is net
    assert spec.model.with_classes(net, 3) is net
    built = dataclasses.replace(spec.model, classes=3).build()
    for n in (net, built):
        n.initialize()
        assert n(mx.nd.zeros((2, 3, 32, 32))).shape == (2, 3)
    assert {k: p.name for k, p in net._collect_params_with_prefix().items()} == names
    assert ({k: p.shape for k, p in net._collect_params_with_prefix().items()}
            == {k: p.shape for k, p in built._collect_params_with_prefix().items()})


def test_imagenet_act_flags_reach_the_official_and_the_converted_network(tmp_path):
    """train_imagenet.py --useReLU (default on, the official model's) and --useGlobal go to the
    units of ResNet50_v1bATAC and of a converted --model network, and identify the run."""
    from atac_gluon.activations import ChaATAC
    for model in ([], ['--model', 'resnet18_v2']):
        for flags, relu, glob in (([], True, False), (['--no-useReLU', '--useGlobal'], False,
                                                      True)):
            spec = imagenet_spec(imagenet_args(model + flags + ['--save-dir', str(tmp_path),
                                                                '--input-size', '32']))
            assert (spec.identity['useReLU'], spec.identity['useGlobal']) == (relu, glob)
            units = []
            spec.model.build().apply(lambda b: units.append(b) if isinstance(b, ChaATAC)
                                     else None)
            assert units and {(u.useReLU, u.useGlobal) for u in units} == {(relu, glob)}
