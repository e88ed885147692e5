"""The PyTorch measurements of the ResNet-20 ATAC twin (:mod:`.torch_models`): eager fp32,
channels_last, bf16 autocast (with and without channels_last) and ``torch.compile``.

A training step: ``zero_grad``, forward and cross-entropy (under autocast for bf16), backward,
the loss read back (as the MXNet step does), SGD with Nesterov momentum 0.9, wd 1e-4, lr 0.1.
Inference: ``model.eval()`` under ``torch.inference_mode()``. Every configuration starts from the
same weights; inference outputs are compared with eager fp32's.
"""
import contextlib

import torch
import torch.nn.functional as F

from .plan import MAIN_MODEL, cifar_model
from .timing import compare_outputs, measure
from .torch_models import cifar_resnet_v2_atac

__all__ = ['torch_meta', 'TorchRunner']

SEED = 0


def torch_meta(threads):
    torch.set_num_threads(threads)
    meta = {'torch': torch.__version__, 'torch_threads': torch.get_num_threads(),
            'torch_mkldnn': torch.backends.mkldnn.is_available()}
    try:
        meta['torch_cpu_capability'] = torch.backends.cpu.get_cpu_capability()
    except AttributeError:
        pass
    return meta


def _blocks(model):
    for blocks in range(1, 10):
        if cifar_model(blocks) == model:
            return blocks
    raise ValueError('no PyTorch twin of %s' % model)


class TorchRunner:
    """Builds the weights once per (model, batch) and times each configuration on them."""

    def __init__(self):
        self._cache = {}

    def _base(self, spec):
        key = (spec['model'], spec['batch'], spec['image_size'], spec['act_type'])
        if key not in self._cache:
            torch.manual_seed(SEED)
            model = cifar_resnet_v2_atac(_blocks(spec['model']), spec['classes'],
                                         spec['act_type'])
            x = torch.randn(spec['batch'], 3, spec['image_size'], spec['image_size'])
            y = torch.randint(0, spec['classes'], (spec['batch'],))
            model.eval()
            with torch.inference_mode():
                reference = model(x).numpy()
            self._cache[key] = ({k: v.clone() for k, v in model.state_dict().items()}, x, y,
                                reference)
        return self._cache[key]

    def run(self, spec):
        if spec['model'] != MAIN_MODEL and spec['act_type'] != 'ChaATAC':
            raise ValueError('no PyTorch twin of %s with %s' % (spec['model'], spec['act_type']))
        state, x, y, reference = self._base(spec)
        config = spec['config']
        model = cifar_resnet_v2_atac(_blocks(spec['model']), spec['classes'], spec['act_type'])
        model.load_state_dict(state)
        if 'channels_last' in config:
            model = model.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
        bf16 = config.startswith('bf16')

        def autocast():
            return (torch.autocast('cpu', dtype=torch.bfloat16) if bf16
                    else contextlib.nullcontext())
        forward, warmup = model, spec['warmup']
        if 'compile' in config:
            # compiled on the first call, and the training step once more on the second (the
            # guards see the optimizer's state appear): three warm-up iterations at least
            forward, warmup = torch.compile(model), max(3, warmup)
        note = ['bf16 autocast' if bf16 else 'fp32']
        if spec['mode'] == 'train':
            model.train()
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9,
                                        weight_decay=1e-4, nesterov=True)

            def step():
                optimizer.zero_grad(set_to_none=True)
                with autocast():
                    loss = F.cross_entropy(forward(x), y)
                loss.backward()
                loss.item()
                optimizer.step()
            result = measure(step, lambda: None, spec['batch'], warmup, spec['iterations'])
        else:
            model.eval()
            out = [None]

            def infer():
                with torch.inference_mode(), autocast():
                    out[0] = forward(x)
            result = measure(infer, lambda: None, spec['batch'], warmup, spec['iterations'])
            result['check'] = compare_outputs(out[0].float().numpy(), reference)
        if 'compile' in config:
            note.append('torch.compile (inductor); its first iteration compiles (%.0f s)'
                        % (result['first_iteration_seconds'] or 0))
        if 'channels_last' in config:
            note.append('channels_last')
        result['note'] = ', '.join(note)
        return result
