"""atac_gluon.evaluation: the one evaluation loop (training's validation, the export's accuracy
report) on a small fixed network: contexts, dtypes, arrays or NDArrays, the logits."""
import mxnet as mx
import numpy as np
from mxnet import gluon

from atac_gluon.evaluation import evaluate, evaluate_accuracy, predict_batches


def fixed_net(ctx=None):
    net = gluon.nn.Dense(3, in_units=4)
    net.initialize(mx.init.Xavier(rnd_type='gaussian'), ctx=ctx)
    return net


def batches(seed=0, sizes=(5, 5, 3)):
    rng = np.random.RandomState(seed)
    return [(rng.randn(n, 4).astype(np.float32), rng.randint(0, 3, n).astype(np.float32))
            for n in sizes]


def test_accuracy_is_the_metric_over_every_image():
    mx.random.seed(0)
    net, data = fixed_net(), batches()
    want = np.concatenate([net(mx.nd.array(x)).asnumpy().argmax(1) == y for x, y in data])
    accuracy, images = evaluate_accuracy(net, data)
    assert images == 13 and accuracy == want.mean()
    as_nd = [(mx.nd.array(x), mx.nd.array(y)) for x, y in data]
    assert evaluate_accuracy(net, as_nd) == (accuracy, images)


def test_evaluate_splits_across_contexts_and_resets_its_metrics():
    """Two contexts (the last batch split 2 + 1) count as one; a second call starts afresh."""
    mx.random.seed(0)
    net = fixed_net([mx.cpu(0), mx.cpu(1)])
    data = [(mx.nd.array(x), mx.nd.array(y)) for x, y in batches()]
    one = evaluate(net, data, [mx.cpu(0)], [mx.metric.Accuracy(), mx.metric.TopKAccuracy(2)])
    values = [m.get() for m in one]
    two = evaluate(net, data, [mx.cpu(0), mx.cpu(1)], one)
    assert two is one and [m.get() for m in two] == values and one[0].num_inst == 13


def test_evaluate_casts_the_inputs_to_the_network_dtype():
    seen = []

    def first_columns(x):
        seen.append(x.dtype)
        return x[:, :3]
    data = [(mx.nd.array(x), mx.nd.array(y)) for x, y in batches()]
    metric, = evaluate(first_columns, data, [mx.cpu()], [mx.metric.Accuracy()], dtype='float16')
    assert metric.num_inst == 13 and set(seen) == {np.float16}
    want = np.concatenate([x.asnumpy()[:, :3].argmax(1) == y.asnumpy() for x, y in data])
    assert metric.get()[1] == want.mean()


def test_predict_batches_concatenates_float32_logits():
    mx.random.seed(0)
    net, data = fixed_net(), batches()
    logits = predict_batches(net, [x for x, _ in data])
    assert logits.dtype == np.float32 and logits.shape == (13, 3)
    np.testing.assert_array_equal(logits, predict_batches(net, data))
    np.testing.assert_allclose(logits[:5], net(mx.nd.array(data[0][0])).asnumpy())
