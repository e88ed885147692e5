"""Rewrites and readings of symbol graphs: pure transforms of the graphs' JSON (no data, no
calibration), each testable on a small hand-built symbol.

* :func:`fp32_symbol`: a network's float32 inference graph and its parameters;
* :func:`split_conv_fanout` (:func:`split_conv_nodes` on the JSON): the repair of MXNet
  1.9.1's MKLDNN fusion bug (see the package docstring);
* :func:`fuse_int8_gates` (:func:`fuse_gate_nodes` on the JSON): each ATAC gate's float32
  island of a calibrated int8 graph as one ``atac_int8_gate`` node;
* :func:`graph_ops`, :func:`float_layers`, :func:`matching_nodes`, :func:`op_nodes`: what a
  graph computes.
"""
import json
import re
from collections import defaultdict

import mxnet as mx

from ..errors import BadInput

__all__ = ['CONV_POST_OPS', 'fp32_symbol', 'split_conv_fanout', 'split_conv_nodes',
           'fuse_int8_gates', 'fuse_gate_nodes', 'graph_ops', 'float_layers', 'matching_nodes',
           'op_nodes', 'block_symbol']

#: operators MKLDNN fuses into the convolution before them (the fusions that go wrong when the
#: convolution's output has other consumers)
CONV_POST_OPS = ('BatchNorm', 'Activation', 'elemwise_add', 'LeakyReLU', 'clip')


def fp32_symbol(net):
    """The float32 inference graph of ``net`` and its parameters.

    Parameters
    ----------
    net : HybridBlock
        Initialized, its parameter shapes known (loaded or run once).

    Returns
    -------
    sym : Symbol
        Output of ``net`` on a variable named ``data``.
    arg_params, aux_params : dict of str to NDArray
        The graph's arguments (weights) and auxiliary states (BatchNorm running statistics),
        on the CPU.
    """
    sym = net(mx.sym.var('data'))
    if isinstance(sym, (list, tuple)):
        if len(sym) != 1:
            raise BadInput('the network has %d outputs; quantization needs one' % len(sym))
        sym = sym[0]
    params = net.collect_params()
    args, auxs = set(sym.list_arguments()), set(sym.list_auxiliary_states())
    arg_params, aux_params = {}, {}
    for name, param in params.items():
        if name in args:
            arg_params[name] = param.data().as_in_context(mx.cpu())
        elif name in auxs:
            aux_params[name] = param.data().as_in_context(mx.cpu())
    return sym, arg_params, aux_params


def split_conv_fanout(sym):
    """``sym`` with every Convolution whose output feeds more than one operator, one of which
    MKLDNN would fuse into it (BatchNorm, Activation, elemwise_add, ...), copied once per
    consumer (the copies share the weights).

    MXNet 1.9.1's ``MKLDNN`` and ``MKLDNN_QUANTIZE`` partitioners check a convolution's other
    consumers only among the operators no subgraph has taken yet: in a pre-activation ResNet the
    stem convolution feeds the first block's BatchNorm and its residual sum, the sum is fused
    into the block's second convolution first, and then the BatchNorm is folded into the stem,
    whose single output (normalised) also becomes the shortcut. With one convolution per
    consumer every fusion is exact, for the price of the duplicated convolutions (here the
    3 -> 16 channel stem, under 1% of the network's multiply-adds).

    Parameters
    ----------
    sym : Symbol
        A float32 graph (not yet partitioned).

    Returns
    -------
    Symbol
        The same function, each convolution output read by at most one fusable operator
        (``sym`` itself when no convolution needs a copy).
    """
    graph = json.loads(sym.tojson())
    if not split_conv_nodes(graph):
        return sym
    return mx.sym.load_json(json.dumps(graph))


def split_conv_nodes(graph):
    """:func:`split_conv_fanout` on a graph's JSON dict, in place; returns the number of
    copies added (0: ``graph`` unchanged)."""
    nodes = graph['nodes']
    consumers = defaultdict(list)  # node index -> [(consumer index, input position)]
    for index, node in enumerate(nodes):
        for position, entry in enumerate(node['inputs']):
            consumers[entry[0]].append((index, position))
    head_nodes = {head[0] for head in graph['heads']}
    split = {}  # (consumer index, input position) -> index of the copy it reads, in `nodes`
    copies = defaultdict(list)  # convolution index -> its copies (node dicts) in order
    for index, node in enumerate(nodes):
        users = consumers.get(index, [])
        if (node['op'] != 'Convolution' or len(users) + (index in head_nodes) < 2
                or not any(nodes[user]['op'] in CONV_POST_OPS for user, _ in users)):
            continue
        for number, user in enumerate(users[1:], 1):
            copy = dict(node, name='%s_fanout%d' % (node['name'], number))
            copies[index].append(copy)
            split[user] = (index, number)
    if not split:
        return 0
    new_nodes, new_index = [], {}
    copy_index = {}
    for index, node in enumerate(nodes):
        node = dict(node)
        node['inputs'] = [
            [copy_index[split[(index, position)]] if (index, position) in split
             else new_index[entry[0]]] + list(entry[1:])
            for position, entry in enumerate(node['inputs'])]
        new_index[index] = len(new_nodes)
        new_nodes.append(node)
        for number, copy in enumerate(copies.get(index, []), 1):
            copy = dict(copy, inputs=node['inputs'])
            copy_index[(index, number)] = len(new_nodes)
            new_nodes.append(copy)
    graph['nodes'] = new_nodes
    graph['arg_nodes'] = [i for i, node in enumerate(new_nodes) if node['op'] == 'null']
    graph['heads'] = [[new_index[head[0]]] + list(head[1:]) for head in graph['heads']]
    graph.pop('node_row_ptr', None)
    return len(split)


def fuse_int8_gates(qsym):
    """``qsym`` (a calibrated int8 graph) with each ATAC gate's float32 island -- dequantize
    the gate's logits, sigmoid, dequantize x, multiply, quantize the product -- replaced by one
    ``atac_int8_gate`` node of :mod:`atac_gluon.ops` (loaded here, built if needed) that takes
    the int8 tensors and the product's calibrated range. Returns (symbol, gates fused).

    A gate whose product has other consumers than its quantize node is left as it is.
    """
    from .. import ops
    ops.load()
    graph = json.loads(qsym.tojson())
    count = fuse_gate_nodes(graph)
    # the nodes the gates replaced are no longer reachable from the outputs: loading drops them
    return mx.sym.load_json(json.dumps(graph)), count


def fuse_gate_nodes(graph):
    """:func:`fuse_int8_gates` on a graph's JSON dict, in place: each gate's quantize node
    becomes an ``atac_int8_gate`` node; returns the number of gates fused. The nodes it
    replaces stay in the list, unreachable."""
    nodes = graph['nodes']
    consumers = defaultdict(list)
    for index, node in enumerate(nodes):
        for source, _, _ in node['inputs']:
            consumers[source].append(index)
    for head, _, _ in graph['heads']:
        consumers[head].append(None)

    def op(index, name, **attrs):
        node = nodes[index]
        return node['op'] == name and all(node.get('attrs', {}).get(k) == v
                                          for k, v in attrs.items())
    count = 0
    for index, node in enumerate(nodes):
        attrs = node.get('attrs', {})
        # the operator picks int8 / uint8 from the calibrated range, as out_type 'auto' does
        if (node['op'] != '_contrib_quantize_v2' or 'min_calib_range' not in attrs
                or attrs.get('out_type', 'auto') != 'auto'):
            continue
        product = node['inputs'][0][0]
        if not op(product, 'elemwise_mul') or consumers[product] != [index]:
            continue
        first, second = (source for source, _, _ in nodes[product]['inputs'])
        sigmoid, x = (second, first) if op(second, 'Activation') else (first, second)
        if not (op(sigmoid, 'Activation', act_type='sigmoid')
                and consumers[sigmoid] == [product]
                and op(x, '_contrib_dequantize')
                and op(nodes[sigmoid]['inputs'][0][0], '_contrib_dequantize')):
            continue
        logits = nodes[sigmoid]['inputs'][0][0]
        nodes[index] = {'op': 'atac_int8_gate', 'name': node['name'] + '_atac_gate',
                        'attrs': {'min_calib_range': attrs['min_calib_range'],
                                  'max_calib_range': attrs['max_calib_range']},
                        'inputs': nodes[logits]['inputs'] + nodes[x]['inputs']}
        count += 1
    return count


def block_symbol(block):
    """The graph of a SymbolBlock (its output on ``data``); a Symbol as it is."""
    return block if isinstance(block, mx.sym.Symbol) else block(mx.sym.var('data'))


def _nodes(block):
    return json.loads(block_symbol(block).tojson())['nodes']


def graph_ops(block):
    """{operator name: count} of a SymbolBlock's graph, or a Symbol's (fused subgraphs counted
    as one)."""
    counts = defaultdict(int)
    for node in _nodes(block):
        if node['op'] != 'null':
            counts[node['op']] += 1
    return dict(counts)


def float_layers(block):
    """What a quantized graph computes in float32: the names of its non-quantized compute
    operators (the quantize / dequantize conversions themselves left out), in graph order.

    Parameters
    ----------
    block : SymbolBlock or Symbol
        A block :func:`~atac_gluon.quantization.quantize_model` returned, or its graph.

    Returns
    -------
    list of (str, str)
        (operator, node name) pairs, e.g. ``('Activation', '..._chaatac0_sigmoid0_fwd')``; a
        fused oneDNN node is named after the layers it fuses (``conv1_fwd+batchnorm3_fwd``).
    """
    layers = []
    for node in _nodes(block):
        op = node['op']
        if op == 'null' or op.startswith('_contrib_quantize') or op in (
                '_contrib_dequantize', '_contrib_requantize'):
            continue
        if op.startswith('_contrib_quantized_') or op == 'atac_int8_gate':  # int8 throughout
            continue
        if op.startswith('_sg_mkldnn') and node.get('attrs', {}).get('quantized') == 'true':
            continue
        name = node['name']
        if node.get('subgraphs'):
            name = '+'.join(inner['name'] for inner in node['subgraphs'][0]['nodes']
                            if inner['op'] != 'null')
        layers.append((op, name))
    return layers


def matching_nodes(sym, patterns):
    """Names of the operator nodes of ``sym`` that one of the regular expressions ``patterns``
    matches (searched in the node names), in graph order."""
    regexes = [re.compile(pattern) for pattern in patterns]
    names = [node['name'] for node in json.loads(sym.tojson())['nodes'] if node['op'] != 'null']
    return [name for name in names if any(regex.search(name) for regex in regexes)]


def op_nodes(sym, ops):
    """Names of the nodes of ``sym`` whose operator is one of ``ops``, in graph order."""
    return [node['name'] for node in json.loads(sym.tojson())['nodes'] if node['op'] in ops]
