import mxnet as mx
import numpy as np
import pytest
from gluoncv.model_zoo import get_model as gcv_get_model

import atac_gluon
from atac_gluon import (BasicBlockV1bATAC, ResNet20V2ATAC, ResNet50_v1bATAC, from_gluoncv,
                        get_cifar_resnet_atac, get_model, list_models, summary)
from atac_gluon.models.cifar import stage_act_types
from atac_gluon.onednn import settle_weights


def build_official(spec):
    kwargs = dict(spec['kwargs'])
    if spec['class'] == 'ResNet50_v1bATAC':
        return ResNet50_v1bATAC(kwargs.pop('act_type'), kwargs.pop('r'), kwargs.pop('act_layers'),
                                kwargs.pop('layers'), **kwargs)
    return ResNet20V2ATAC(**kwargs)


def layout_of(net):
    return {name: list(p.shape) for name, p in net._collect_params_with_prefix().items()}


@pytest.mark.parametrize('key', ['cifar_atac_b3_r2', 'r50_atac_r2_al2'])
def test_parameter_layout_is_the_official_one(official_layout, key):
    spec = official_layout[key]
    net = build_official(spec)
    net.initialize()
    net(mx.nd.zeros(spec['input_shape']))
    assert layout_of(net) == spec['parameters']


def test_official_layout_checkpoint_loads_strictly(official_layout, tmp_path):
    """A file with exactly the official names and shapes loads without allow_missing/ignore_extra,
    and every value lands where the name says."""
    spec = official_layout['cifar_atac_b3_r2']
    rng = np.random.RandomState(0)
    saved = {name: mx.nd.array(rng.rand(*shape) + 0.5 if name.endswith('var')
                               else rng.randn(*shape) * 0.1)
             for name, shape in spec['parameters'].items()}
    path = str(tmp_path / 'official.params')
    mx.nd.save(path, saved)
    net = build_official(spec)
    net.load_parameters(path)
    for name, p in net._collect_params_with_prefix().items():
        np.testing.assert_array_equal(p.data().asnumpy(), saved[name].asnumpy())
    net.hybridize()
    out = net(mx.nd.ones((2, 3, 32, 32)))
    assert out.shape == (2, 100) and np.isfinite(out.asnumpy()).all()


def test_missing_parameter_is_an_error(official_layout, tmp_path):
    spec = official_layout['cifar_atac_b3_r2']
    saved = {name: mx.nd.zeros(shape) for name, shape in spec['parameters'].items()
             if 'msAA2' not in name}
    path = str(tmp_path / 'partial.params')
    mx.nd.save(path, saved)
    with pytest.raises(AssertionError, match='msAA2'):
        build_official(spec).load_parameters(path)


@pytest.mark.parametrize('gluoncv_name,atac_name,shape', [
    ('cifar_resnet20_v2', 'cifar_resnet20_v2_atac', (1, 3, 32, 32)),
    ('resnet18_v1b', 'resnet18_v1b_atac', (1, 3, 64, 64)),
])
def test_gluoncv_checkpoints_initialise_atac_models(tmp_path, gluoncv_name, atac_name, shape):
    ref = gcv_get_model(gluoncv_name, classes=10)
    ref.initialize(mx.init.Xavier())
    ref(mx.nd.zeros(shape))  # from_gluoncv waits for this pass before copying
    path = str(tmp_path / 'gluoncv.params')
    ref.save_parameters(path)
    net = get_model(atac_name, classes=10)
    net.load_parameters(path, allow_missing=True)
    net.initialize()  # only the ATAC units are left to initialise
    ref_params = ref._collect_params_with_prefix()
    ours = net._collect_params_with_prefix()
    assert set(ref_params) < set(ours)
    assert all('module' in name for name in set(ours) - set(ref_params))
    for name, p in ref_params.items():
        np.testing.assert_array_equal(ours[name].data().asnumpy(), p.data().asnumpy())


def test_resnet50_v1b_names_are_a_subset():
    ref = gcv_get_model('resnet50_v1b')
    ref.initialize()
    ref(mx.nd.zeros((1, 3, 64, 64)))
    net = get_model('resnet50_v1b_atac')
    net.initialize()
    net(mx.nd.zeros((1, 3, 64, 64)))
    ours = layout_of(net)
    for name, shape in layout_of(ref).items():
        assert ours[name] == shape, name


@pytest.mark.parametrize('gluoncv_name,shape', [('cifar_resnet20_v2', (2, 3, 32, 32)),
                                                ('resnet18_v1b', (2, 3, 64, 64)),
                                                ('resnet50_v1d', (2, 3, 64, 64))])
def test_from_gluoncv_converts_and_copies(gluoncv_name, shape):
    ref = gcv_get_model(gluoncv_name, classes=7)
    ref.initialize(mx.init.Xavier())
    ref(mx.nd.zeros(shape))  # from_gluoncv waits for this pass before copying
    net = from_gluoncv(ref)
    net.initialize()
    out = net(mx.nd.ones(shape))
    assert out.shape == (2, 7)
    settle_weights()  # seen in CI without it: 34% of a weight permuted
    ref_params = ref._collect_params_with_prefix()
    ours = net._collect_params_with_prefix()
    for name, p in ref_params.items():
        np.testing.assert_array_equal(ours[name].data().asnumpy(), p.data().asnumpy())
    assert any('module' in name for name in ours)


def test_from_gluoncv_with_relu_reproduces_the_gluoncv_network():
    ref = gcv_get_model('cifar_resnet20_v2', classes=10)
    ref.initialize(mx.init.Xavier())
    x = mx.nd.random.normal(shape=(2, 3, 32, 32))
    ref(x)
    net = from_gluoncv(ref, act_type='relu')
    np.testing.assert_allclose(net(x).asnumpy(), ref(x).asnumpy(), rtol=1e-5, atol=1e-6)


def test_from_gluoncv_rejects_other_models():
    with pytest.raises(ValueError, match='ResNetV1b and CIFARResNetV2'):
        from_gluoncv(gcv_get_model('cifar_resnet20_v1'))


def test_summary_figures_of_the_paper(capsys):
    net = get_model('resnet50_v1b_atac', r=2, act_layers=2)
    net.initialize()
    totals = summary(net, mx.nd.zeros((1, 3, 224, 224)))
    assert (totals['flops'], totals['params'], totals['trainable']) == \
        (4399512552, 28006312, 27934760)
    out = capsys.readouterr().out
    for line in ('Total FLOPs: 4399512552', 'Total params: 28006312',
                 'Trainable params: 27934760'):
        assert line in out.splitlines()
    trainable = []
    for blocks in (1, 2, 3, 4):
        net = get_cifar_resnet_atac(blocks, classes=10, r=2, useReLU=True)
        net.initialize()
        trainable.append(summary(net, mx.nd.zeros((1, 3, 32, 32)),
                                 print_fn=lambda *a: None)['trainable'])
    assert trainable == [89578, 198218, 306858, 415498]
    # the ReLU host of the paper
    net = get_cifar_resnet_atac(1, classes=10, act_type='relu')
    net.initialize()
    assert summary(net, mx.nd.zeros((1, 3, 32, 32)), print_fn=lambda *a: None)['trainable'] \
        == 77850


def test_summary_refuses_hybridized_network():
    net = get_cifar_resnet_atac(1)
    net.initialize()
    net.hybridize()
    with pytest.raises(ValueError, match='before hybridize'):
        summary(net, mx.nd.zeros((1, 3, 32, 32)))


@pytest.mark.parametrize('act_order,act_layers,stages,final', [
    ('bac', 4, ['A', 'A', 'A'], 'A'),
    ('bac', 3, ['R', 'A', 'A'], 'A'),
    ('bac', 2, ['R', 'R', 'A'], 'A'),
    ('bac', 1, ['R', 'R', 'R'], 'A'),
    ('bac', 0, ['R', 'R', 'R'], 'R'),
    ('pre', 4, ['A', 'A', 'A'], 'A'),
    ('pre', 3, ['A', 'A', 'A'], 'R'),
    ('pre', 1, ['A', 'R', 'R'], 'R'),
    ('pre', 0, ['R', 'R', 'R'], 'R'),
])
def test_act_layers_and_order_follow_the_official_rules(act_order, act_layers, stages, final):
    assert stage_act_types(3, act_layers, 'A', 'R', act_order) == (stages, final)
    net = get_cifar_resnet_atac(1, act_type='ChaATAC', act_layers=act_layers,
                                act_order=act_order)
    kinds = [type(net.features[i][0].msAA1).__name__ for i in (2, 3, 4)]
    assert kinds == ['ChaATAC' if s == 'A' else 'Activation' for s in stages]
    assert type(net.features[6]).__name__ == ('ChaATAC' if final == 'A' else 'Activation')


@pytest.mark.parametrize('act_layers,atac_stages', [(2, [3, 4]), (4, [1, 2, 3, 4]), (0, [])])
def test_v1b_act_layers(act_layers, atac_stages):
    net = get_model('resnet50_v1b_atac', act_layers=act_layers)
    for s in range(1, 5):
        block = getattr(net, 'layer%d' % s)[0]
        want = 'ChaATAC' if s in atac_stages else 'Activation'
        assert (type(block.relu1).__name__, type(block.relu2).__name__) == (want, want)
        assert type(block.relu3).__name__ == 'Activation'


@pytest.mark.parametrize('act_type', atac_gluon.ACT_TYPES)
def test_v1b_hosts_take_every_act_type(act_type):
    net = ResNet50_v1bATAC(act_type, 2, 4, [1, 1, 1, 1], classes=5, block=BasicBlockV1bATAC)
    net.initialize()
    net.hybridize()
    assert net(mx.nd.ones((2, 3, 32, 32))).shape == (2, 5)


def test_registry_names():
    names = list_models()
    for depth in (20, 32, 44, 56):
        assert 'cifar_resnet%d_v2_atac' % depth in names
    for depth in (18, 34, 50, 101, 152):
        assert 'resnet%d_v1b_atac' % depth in names
    net = get_model('CIFAR_ResNet56_v2_atac', classes=100)
    assert [len(net.features[i]) for i in (2, 3, 4)] == [9, 9, 9]
    assert net.output._units == 100


def test_registered_names_are_explicit_functions():
    """Each name is a greppable ``def <name>(`` of its module, a four-line entry point (decorator,
    def, one-line docstring, call of the family factory) whose help still documents its
    parameters (added by the family), with the family attributes the command lines read; no
    registration loop builds names."""
    import inspect
    from atac_gluon.models import model_factory
    for name in list_models():
        factory = model_factory(name)
        source = inspect.getsource(inspect.getmodule(factory))
        assert factory.__name__ == name
        assert '\ndef %s(pretrained: bool = False, classes: int = ' % name in source
        assert 'globals()' not in source
        entry = inspect.getsource(factory).splitlines()
        assert len(entry) == 4 and entry[0].endswith('_family.variant'), entry
        assert entry[2].strip().startswith('"""') and entry[2].strip().endswith('"""'), entry
        assert all(word in factory.__doc__ for word in ('Parameters', 'pretrained', 'classes'))
        family = 'get_cifar_resnet_atac' if name.startswith('cifar') else 'get_resnet_v1b_atac'
        assert ':func:`%s` arguments (act_type, r, ' % family in factory.__doc__
        assert 'classes : int, default %d\n' % (10 if family[4] == 'c' else 1000) in \
            factory.__doc__
        assert len(factory.input_shape) == 4 and factory.dataset and factory.max_act_layers == 4
    for depth in (8, 14, 20, 26, 32):  # the paper's CIFAR depths, blocks 1 to 5
        assert 'cifar_resnet%d_v2_atac' % depth in list_models()
    # the family factories (any depth) carry the attributes of their registered names
    for family, name in [(get_cifar_resnet_atac, 'cifar_resnet20_v2_atac'),
                         (atac_gluon.get_resnet_v1b_atac, 'resnet50_v1b_atac')]:
        assert [getattr(family, a) for a in ('input_shape', 'dataset', 'max_act_layers')] == \
            [getattr(model_factory(name), a) for a in ('input_shape', 'dataset', 'max_act_layers')]


@pytest.mark.parametrize('key,name,kwargs', [
    ('cifar_atac_b3_r2', 'cifar_resnet20_v2_atac', dict(classes=100, r=2, useReLU=True)),
    ('r50_atac_r2_al2', 'resnet50_v1b_atac', dict(r=2, act_layers=2)),
])
def test_registry_builds_the_layout_of_the_classes(official_layout, key, name, kwargs):
    spec = official_layout[key]
    layouts = []
    for net in (get_model(name, **kwargs), build_official(spec)):
        net.initialize()
        net(mx.nd.zeros((1, 3, 32, 32)))  # the parameter shapes do not depend on the image size
        layouts.append(layout_of(net))
    assert layouts[0] == layouts[1] == spec['parameters']
    assert list(layouts[0]) == list(layouts[1])  # same order too


def test_v1b_blocks_are_gluoncv_blocks_with_their_activations_swapped():
    from gluoncv.model_zoo.resnetv1b import BasicBlockV1b, BottleneckV1b
    from atac_gluon import BottleneckV1bATAC
    from mxnet.gluon.nn import BatchNorm
    for ours, theirs, swapped in [
            (BottleneckV1bATAC('ChaATAC', 2, 16), BottleneckV1b(16, norm_layer=BatchNorm),
             ['relu1', 'relu2']),
            (BasicBlockV1bATAC('ChaATAC', 2, 16), BasicBlockV1b(16, norm_layer=BatchNorm),
             ['relu1'])]:
        assert isinstance(ours, type(theirs))
        assert list(ours._children) == list(theirs._children)  # the places are kept
        assert [name for name, child in ours._children.items()
                if type(child) is not type(theirs._children[name])] == swapped
        assert all(getattr(ours, name) is ours._children[name] for name in swapped)
    relu = BasicBlockV1bATAC('relu', 2, 16)
    assert type(relu.relu1) is type(BasicBlockV1b(16, norm_layer=BatchNorm).relu1)


@pytest.mark.parametrize('call,message', [
    (lambda: get_model('resnet50_atac'), "unknown model 'resnet50_atac'.*cifar_resnet20_v2_atac"),
    (lambda: get_cifar_resnet_atac(1, act_type='xUnit'), 'unknown act_type .xUnit.*ChaATAC'),
    (lambda: get_cifar_resnet_atac(1, replace_act='tanh'), 'unknown replace_act'),
    (lambda: get_cifar_resnet_atac(1, act_order='mid'), "unknown act_order 'mid'.*bac, pre"),
    (lambda: get_cifar_resnet_atac(1, r=0), 'r must be positive'),
    (lambda: get_cifar_resnet_atac(1, r=32), r'channels // r'),
    (lambda: get_model('resnet50_v1b_atac', act_type='SpaATAC'), 'unknown act_type'),
    (lambda: ResNet50_v1bATAC('ChaATAC', 2, 2, [3, 4, 6]), 'layers must list 4 stages'),
    (lambda: ResNet20V2ATAC([1, 1], [16, 16], 10, 'relu', 2, 3, 1, True, False, 4, 'relu',
                            'bac', False), 'channels must have one entry more'),
])
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_command_line_summary(capsys):
    from atac_gluon.__main__ import main
    from atac_gluon.errors import run_main
    assert run_main(main, ['--model', 'cifar_resnet8_v2_atac', '--classes', '10']) == 0
    assert 'Trainable params: 89578' in capsys.readouterr().out.splitlines()
    assert run_main(main, ['--model', 'cifar_resnet8_v2_atac', '--act-type', 'relu']) == 0
    assert 'Trainable params: 77850' in capsys.readouterr().out.splitlines()
    assert run_main(main, ['--model', 'cifar_resnet8_v2_atac', '--input-shape', '1,3']) == 2
    assert '--input-shape must be four positive integers' in capsys.readouterr().err
    assert run_main(main, ['--model', 'resnet51_v1b_atac']) == 2
    assert "unknown model 'resnet51_v1b_atac'" in capsys.readouterr().err
def test_load_shared_parameters_skips_other_shapes_and_reports(tmp_path):
    ref = gcv_get_model('resnet18_v1b', classes=1000)
    ref.initialize(mx.init.Xavier())
    ref(mx.nd.zeros((1, 3, 32, 32)))
    path = str(tmp_path / 'r18.params')
    ref.save_parameters(path)
    net = get_model('resnet18_v1b_atac', classes=5)
    net.initialize()
    net(mx.nd.zeros((1, 3, 32, 32)))
    settle_weights()
    before_fc = net.fc.weight.data().asnumpy().copy()
    report = atac_gluon.load_shared_parameters(net, path)
    assert sorted(report['skipped']) == ['fc.bias', 'fc.weight']
    assert report['missing'] and all('module' in n for n in report['missing'])
    np.testing.assert_array_equal(net.fc.weight.data().asnumpy(), before_fc)
    np.testing.assert_array_equal(net.conv1.weight.data().asnumpy(),
                                  ref.conv1.weight.data().asnumpy())
    other = str(tmp_path / 'other.params')
    mx.nd.save(other, {'foo.weight': mx.nd.zeros((2,))})
    with pytest.raises(ValueError, match='no parameter matches'):
        atac_gluon.load_shared_parameters(net, other)


def test_group_norm_matches_gluoncv_and_hybridizes():
    from gluoncv.nn import GroupNorm as GluonCVGroupNorm
    ours, theirs = atac_gluon.GroupNorm(ngroups=4, in_channels=8), GluonCVGroupNorm(4, 8)
    for block in (ours, theirs):
        block.initialize()
    ours.gamma.set_data(mx.nd.random.uniform(0.5, 1.5, shape=(8,)))
    ours.beta.set_data(mx.nd.random.normal(shape=(8,)))
    theirs.gamma.set_data(ours.gamma.data())
    theirs.beta.set_data(ours.beta.data())
    x = mx.nd.random.normal(shape=(2, 8, 5, 5)) * 3 + 1
    want = theirs(x).asnumpy()
    np.testing.assert_allclose(ours(x).asnumpy(), want, rtol=1e-5, atol=1e-5)
    ours.hybridize()
    np.testing.assert_allclose(ours(x).asnumpy(), want, rtol=1e-5, atol=1e-5)
    assert list(ours._collect_params_with_prefix()) == ['gamma', 'beta']
    net = ResNet50_v1bATAC('ChaATAC', 2, 2, [1, 1, 1, 1], classes=3,
                           norm_layer=atac_gluon.GroupNorm)
    net.initialize()
    net.hybridize()
    assert net(mx.nd.ones((2, 3, 32, 32))).shape == (2, 3)
