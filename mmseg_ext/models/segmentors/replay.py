"""What a training step needs to run a forward pass twice with the same result and one set of
side effects (the random state it draws from is `mmseg_ext.ops.rng`'s): batch-norm running
statistics left as they were by the first pass, and a gradient computed elsewhere added where
the second pass's graph meets it. Used by ADAMCUSegmentor's per-domain backward, which
recomputes the target forward pass instead of keeping both domains' activations alive."""
import contextlib

import torch
from torch.nn.modules.batchnorm import _NormBase


@contextlib.contextmanager
def running_statistics_kept(model):
    """Run the block with the running statistics of `model`'s training-mode norm layers (mean,
    variance, batch count) as they were before it afterwards: a pass in the block uses batch
    statistics as in training but leaves no trace in the buffers. The block updates copies;
    the buffers themselves are never written (a graph may hold them for its backward)."""
    names = ('running_mean', 'running_var', 'num_batches_tracked')
    kept = [(m, {n: m._buffers[n] for n in names if m._buffers.get(n) is not None})
            for m in model.modules()
            if isinstance(m, _NormBase) and m.training and m.track_running_stats]
    for module, buffers in kept:
        module._buffers.update({n: b.clone() for n, b in buffers.items()})
    try:
        yield
    finally:
        for module, buffers in kept:
            module._buffers.update(buffers)


class AddGrad(torch.autograd.Function):
    """Identity forward; backward adds `grad` (a gradient with respect to the same tensor from
    another graph) to the incoming one. With one incoming gradient the sum has two summands,
    the same as when both graphs meet at the tensor in one backward."""

    @staticmethod
    def forward(ctx, x, grad):
        ctx.save_for_backward(grad)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_out):
        (grad,) = ctx.saved_tensors
        return grad_out + grad, None
