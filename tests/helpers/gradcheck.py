"""Helpers comparing imperative, hybridized and finite-difference gradients of a network."""
from mxnet import autograd


def loss_of(net, x, head):
    """A scalar with a non-trivial gradient: <net(x), head>, in training mode (batch stats)."""
    return (net(x) * head).sum()


def forward_backward(net, x, head):
    """Output and gradients (input first, then every parameter with a gradient) of loss_of."""
    x = x.copy()
    x.attach_grad()
    with autograd.record():
        out = net(x)
        loss = (out * head).sum()
    loss.backward()
    grads = {'input': x.grad.asnumpy()}
    for name, p in net.collect_params().items():
        if p.grad_req != 'null':
            grads[name] = p.grad().asnumpy()
    return out.asnumpy(), grads


def finite_difference(net, x, head, param, index, eps=1e-6):
    """Central difference of loss_of w.r.t. one entry of an NDArray (param data or x)."""
    arr = param
    old = arr[index].asscalar()
    values = []
    for delta in (eps, -eps):
        arr[index] = old + delta
        with autograd.train_mode():
            values.append(loss_of(net, x, head).asscalar())
    arr[index] = old
    return (values[0] - values[1]) / (2 * eps)


def random_indices(shape, n, rng):
    return [tuple(int(rng.randint(s)) for s in shape) for _ in range(n)]
