"""The graph rewrites and readings of atac_gluon.quantization.graph on small hand-built symbols
and JSON graphs: no data set, no calibration, no operator library."""
import copy
import json

import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon

from atac_gluon.errors import BadInput
from atac_gluon.quantization.graph import (float_layers, fp32_symbol, fuse_gate_nodes,
                                           graph_ops, matching_nodes, op_nodes,
                                           split_conv_fanout, split_conv_nodes)


def conv(data, name, weight='w'):
    return mx.sym.Convolution(data, mx.sym.var(weight), kernel=(1, 1), num_filter=2,
                              no_bias=True, name=name)


def run(sym, x):
    """``sym`` on input ``x`` with fixed weights (every argument but data is ones / 2)."""
    shapes, _, aux_shapes = sym.infer_shape(data=x.shape)
    args = {name: mx.nd.array(x) if name == 'data' else mx.nd.ones(shape) / 2
            for name, shape in zip(sym.list_arguments(), shapes)}
    auxs = {name: mx.nd.ones(shape) for name, shape in
            zip(sym.list_auxiliary_states(), aux_shapes)}
    return sym.bind(mx.cpu(), args, aux_states=auxs, grad_req='null').forward()[0].asnumpy()


# --------------------------------------------------------------------------- split_conv_fanout


def test_split_gives_each_fusable_consumer_its_copy_and_keeps_the_function():
    c = conv(mx.sym.var('data'), 'c')
    sym = mx.sym.Activation(mx.sym.BatchNorm(c, name='bn'), act_type='relu') + c
    split = split_conv_fanout(sym)
    nodes = json.loads(split.tojson())['nodes']
    assert [n['name'] for n in nodes if n['op'] == 'Convolution'] == ['c', 'c_fanout1']
    copy_node, = [n for n in nodes if n['name'] == 'c_fanout1']
    original, = [n for n in nodes if n['name'] == 'c']
    assert copy_node['inputs'] == original['inputs']  # same data, same weight
    assert split.list_arguments() == sym.list_arguments()
    assert split.list_auxiliary_states() == sym.list_auxiliary_states()
    # bound, the graph is partitioned for MKLDNN (MXNet's default here): split, it computes
    # conv + relu(bn(conv)) (weights 1/2, fixed gamma 1, beta 1/2, running mean and var 1)
    x = np.random.RandomState(0).randn(1, 3, 4, 4).astype(np.float32)
    c = x.sum(axis=1, keepdims=True).repeat(2, axis=1) / 2
    want = c + np.maximum((c - 1) / np.sqrt(1 + 1e-3) + 0.5, 0)
    np.testing.assert_allclose(run(split, x), want, rtol=1e-5, atol=1e-5)


def test_split_leaves_graphs_without_a_shared_fusable_convolution():
    data = mx.sym.var('data')
    single = mx.sym.BatchNorm(conv(data, 'c'))
    assert split_conv_fanout(single) is single
    c = conv(data, 'c')  # two readers, none that MKLDNN fuses into a convolution
    pooled = mx.sym.Pooling(c, kernel=(2, 2), pool_type='max') + mx.sym.Pooling(
        c, kernel=(2, 2), pool_type='avg')
    assert split_conv_fanout(pooled) is pooled


def test_split_on_json_gives_copies_to_the_readers_after_the_first():
    """One fusable reader is enough to split: the other readers (here a pooling, and a graph
    output that is not split) read their copies; one fusable reader and an output stay."""
    c = conv(mx.sym.var('data'), 'c')
    pooled = mx.sym.Pooling(c, kernel=(2, 2), pool_type='max', name='pool')
    graph = json.loads(mx.sym.Group([mx.sym.BatchNorm(c, name='bn'), pooled, c]).tojson())
    assert split_conv_nodes(graph) == 1
    nodes = graph['nodes']
    reads = {n['name']: nodes[n['inputs'][0][0]]['name'] for n in nodes
             if n['op'] in ('BatchNorm', 'Pooling')}
    assert reads == {'bn': 'c', 'pool': 'c_fanout1'}
    assert [nodes[head[0]]['name'] for head in graph['heads']] == ['bn', 'pool', 'c']
    assert graph['arg_nodes'] == [i for i, n in enumerate(nodes) if n['op'] == 'null']
    assert 'node_row_ptr' not in graph
    single = json.loads(mx.sym.Group([c, mx.sym.BatchNorm(c, name='bn')]).tojson())
    before = copy.deepcopy(single)
    assert split_conv_nodes(single) == 0 and single == before


def test_split_copies_once_per_extra_reader():
    c = conv(mx.sym.var('data'), 'c')
    sym = mx.sym.BatchNorm(c, name='bn1') + mx.sym.BatchNorm(c, name='bn2') + c
    names = [n['name'] for n in json.loads(split_conv_fanout(sym).tojson())['nodes']
             if n['op'] == 'Convolution']
    assert names == ['c', 'c_fanout1', 'c_fanout2']


# --------------------------------------------------------------------------- fuse_gate_nodes


def null(name):
    return {'op': 'null', 'name': name, 'inputs': []}


def gate_graph(sigmoid_first=False, out_type=None, act_type='sigmoid', extra_reader=False):
    """The float32 island of an int8 ATAC gate as MXNet's quantization pass leaves it:
    dequantize x and the gate's logits g, sigmoid, multiply, quantize the product."""
    nodes = [null('x'), null('x_min'), null('x_max'),
             {'op': '_contrib_dequantize', 'name': 'x_deq',
              'inputs': [[0, 0, 0], [1, 0, 0], [2, 0, 0]]},
             null('g'), null('g_min'), null('g_max'),
             {'op': '_contrib_dequantize', 'name': 'g_deq',
              'inputs': [[4, 0, 0], [5, 0, 0], [6, 0, 0]]},
             {'op': 'Activation', 'name': 'sigmoid', 'attrs': {'act_type': act_type},
              'inputs': [[7, 0, 0]]},
             {'op': 'elemwise_mul', 'name': 'mul',
              'inputs': [[8, 0, 0], [3, 0, 0]] if sigmoid_first else [[3, 0, 0], [8, 0, 0]]},
             {'op': '_contrib_quantize_v2', 'name': 'mul_quantize',
              'attrs': dict({'min_calib_range': '-1.5', 'max_calib_range': '2.5'},
                            **({'out_type': out_type} if out_type else {})),
              'inputs': [[9, 0, 0]]}]
    heads = [[10, 0, 0]] + ([[9, 0, 0]] if extra_reader else [])
    return {'nodes': nodes, 'arg_nodes': [0, 1, 2, 4, 5, 6], 'heads': heads}


@pytest.mark.parametrize('sigmoid_first', [False, True])
def test_fuse_replaces_the_island_by_one_gate(sigmoid_first):
    graph = gate_graph(sigmoid_first=sigmoid_first)
    assert fuse_gate_nodes(graph) == 1
    gate = graph['nodes'][10]
    assert gate == {'op': 'atac_int8_gate', 'name': 'mul_quantize_atac_gate',
                    'attrs': {'min_calib_range': '-1.5', 'max_calib_range': '2.5'},
                    # the int8 logits and their range, then the int8 x and its range
                    'inputs': [[4, 0, 0], [5, 0, 0], [6, 0, 0],
                               [0, 0, 0], [1, 0, 0], [2, 0, 0]]}
    assert graph['heads'] == [[10, 0, 0]]


@pytest.mark.parametrize('change', [dict(out_type='int8'), dict(act_type='relu'),
                                    dict(extra_reader=True)],
                         ids=['fixed-out-type', 'not-a-sigmoid', 'product-read-twice'])
def test_fuse_leaves_other_patterns(change):
    graph = gate_graph(**change)
    before = copy.deepcopy(graph)
    assert fuse_gate_nodes(graph) == 0 and graph == before


def test_fuse_needs_a_calibrated_quantize_and_dequantized_inputs():
    graph = gate_graph()
    del graph['nodes'][10]['attrs']['min_calib_range']
    assert fuse_gate_nodes(graph) == 0
    graph = gate_graph()
    graph['nodes'][3]['op'] = 'Cast'  # x is not an int8 tensor dequantized
    assert fuse_gate_nodes(graph) == 0


# --------------------------------------------------------------------------- readings


@pytest.mark.filterwarnings('ignore:Cannot decide type')
def test_graph_ops_and_float_layers_of_a_quantized_graph():
    data = mx.sym.var('data')
    q = mx.sym.contrib.quantize_v2(data, min_calib_range=-1.0, max_calib_range=1.0, name='q')
    deq = mx.sym.contrib.dequantize(q[0], q[1], q[2], name='deq')
    act = mx.sym.Activation(deq, act_type='sigmoid', name='sig')
    sym = mx.sym.FullyConnected(act, num_hidden=3, name='fc')
    assert graph_ops(sym) == {'_contrib_quantize_v2': 1, '_contrib_dequantize': 1,
                              'Activation': 1, 'FullyConnected': 1}
    assert float_layers(sym) == [('Activation', 'sig'), ('FullyConnected', 'fc')]
    block = mx.gluon.SymbolBlock(sym, [data])
    assert graph_ops(block) == graph_ops(sym) and float_layers(block) == float_layers(sym)


def test_float_layers_name_a_fused_node_after_its_layers():
    c = conv(mx.sym.var('data'), 'c')
    sym = mx.sym.Activation(mx.sym.BatchNorm(c, name='bn'), act_type='relu', name='relu')
    fused = sym.get_backend_symbol('MKLDNN')
    assert graph_ops(fused) == {'_sg_mkldnn_conv': 1}
    assert float_layers(fused) == [('_sg_mkldnn_conv', 'c+bn+relu')]


def test_matching_nodes_and_op_nodes():
    data = mx.sym.var('data')
    a = conv(data, 'stage1_chaatac0_conv0')
    b = conv(a, 'stage1_conv1', weight='w2')
    sym = mx.sym.elemwise_mul(a, mx.sym.sigmoid(b, name='sig'), name='mul')
    assert matching_nodes(sym, ['chaatac']) == ['stage1_chaatac0_conv0']
    assert matching_nodes(sym, [r'conv\d$', 'mul']) == ['stage1_chaatac0_conv0',
                                                        'stage1_conv1', 'mul']
    assert matching_nodes(sym, []) == []
    assert op_nodes(sym, ['elemwise_mul']) == ['mul']


# --------------------------------------------------------------------------- fp32_symbol


def test_fp32_symbol_sorts_parameters_into_arguments_and_states():
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(4, in_units=3), gluon.nn.BatchNorm(in_channels=4))
    net.initialize()
    sym, args, auxs = fp32_symbol(net)
    assert sym.list_arguments()[0] == 'data'
    assert sorted(args) == sorted(sym.list_arguments()[1:])
    assert sorted(auxs) == sorted(sym.list_auxiliary_states())
    assert all(v.context == mx.cpu() for v in list(args.values()) + list(auxs.values()))


def test_fp32_symbol_refuses_several_outputs():
    class Two(gluon.HybridBlock):
        def hybrid_forward(self, F, x):
            return x + 1, x * 2
    with pytest.raises(BadInput, match='the network has 2 outputs; quantization needs one'):
        fp32_symbol(Two())
