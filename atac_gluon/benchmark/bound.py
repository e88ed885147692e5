"""An upper bound on training speed: the network reduced to its convolutions.

``convolutions_only(net)`` rewrites a hybridizable ATAC network's graph so that every
BatchNorm and activation passes its input through and every local ATAC unit
``x * sigmoid(logits)`` becomes its logits path alone (the unit's two 1x1 convolutions on
``x``). What is left is every convolution of the network with its shape, stride and order, the
residual sums, the pooling and the classifier. A training step of that graph costs what the
convolutions cost (plus the few ops kept); no amount of work on BatchNorm, the gates or the
activations can make the real network train faster than it. The benchmark measures it in fp32
and under AMP bfloat16 to show how much of a step is left for everything else.
"""
import json
import warnings

import mxnet as mx

__all__ = ['convolutions_only', 'PASSED_THROUGH', 'op_counts']

#: operators whose first input is passed through
PASSED_THROUGH = ('BatchNorm', 'Activation', 'LeakyReLU', 'relu', 'sigmoid')
#: the local ATAC product ``elemwise_mul(x, gate)``, or the fused ``atac_gate(x, logits)``: input
#: 1 is kept
GATE_PRODUCTS = ('elemwise_mul', 'atac_gate')


def op_counts(sym):
    """{operator: number of nodes} of a symbol's graph."""
    counts = {}
    for node in json.loads(sym.tojson(remove_amp_cast=False))['nodes']:
        if node['op'] != 'null':
            counts[node['op']] = counts.get(node['op'], 0) + 1
    return counts


def convolutions_only(net, data_name='data'):
    """A ``SymbolBlock`` of ``net`` (a HybridBlock taking one input) reduced to its
    convolutions, its weights initialised with ``MSRAPrelu(slope=1)`` (variance-preserving
    without the ReLUs and BatchNorms) and its biases with zeros. Train it with learning rate 0:
    without BatchNorm it diverges within a few steps at the benchmark's 0.1.

    Parameters
    ----------
    net : mxnet.gluon.HybridBlock
        The network, e.g. ``cifar_resnet20_v2_atac`` with local ChaATAC units.
    data_name : str
        Name of the input variable.

    Raises
    ------
    ValueError
        If the network has a multiply other than a local ATAC product (a global, SE-style
        unit's gate has another shape than ``x`` and cannot stand in for it).
    """
    data = mx.sym.var(data_name)
    # AMP's casts are kept (tojson drops them by default)
    graph = json.loads(net(data).tojson(remove_amp_cast=False))
    nodes = graph['nodes']
    forward = {}  # node id -> the entry [node, index, version] that replaces its output
    for i, node in enumerate(nodes):
        node['inputs'] = [list(forward.get(entry[0], entry)) for entry in node['inputs']]
        if node['op'] in PASSED_THROUGH:
            forward[i] = node['inputs'][0]
        elif node['op'] in GATE_PRODUCTS:
            gate = node['inputs'][1]
            # AMP brings both factors to float32 (amp_multicast, amp_cast): skip those too
            while nodes[gate[0]]['op'] in ('amp_cast', 'amp_multicast'):
                source = nodes[gate[0]]
                gate = source['inputs'][gate[1] if source['op'] == 'amp_multicast' else 0]
            forward[i] = gate
        elif node['op'] == 'amp_cast' and nodes[node['inputs'][0][0]]['op'] == 'amp_cast':
            # a cast of a cast (to float32 for a bypassed op, back to bfloat16): one is enough
            node['inputs'] = [nodes[node['inputs'][0][0]]['inputs'][0]]
        elif node['op'].endswith('_mul') and node['op'] != 'elemwise_mul':
            raise ValueError('convolutions_only: %s node %r is not a local ATAC product '
                             '(only useGlobal=False units can be reduced)'
                             % (node['op'], node['name']))
    graph['heads'] = [list(forward.get(head[0], head)) for head in graph['heads']]
    # unreferenced nodes (the bypassed ones and their parameters) drop out: a symbol is what
    # its heads reach
    sym = mx.sym.load_json(json.dumps(graph))
    with warnings.catch_warnings():  # 'cannot decide type for data': known at the first call
        warnings.simplefilter('ignore', UserWarning)
        block = mx.gluon.SymbolBlock(sym, data)
    shapes = {name: param.shape for name, param in net.collect_params().items()}
    for name, param in block.collect_params().items():
        param.shape = shapes[name]  # every parameter kept is one of net's: no deferred init
        param.initialize(mx.init.Zero() if name.endswith('_bias')
                         else mx.init.MSRAPrelu(slope=1.0))
    return block
