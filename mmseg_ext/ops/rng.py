"""The state of every global random generator (torch CPU and CUDA, numpy's legacy one,
Python's), taken and put back: a resumed run restores it from its checkpoint
(`ExactResumeIterBasedTrainLoop`), and a training step that runs a forward pass twice replays
its draws (ADAMCUSegmentor's per-domain backward)."""
import logging
import random

import numpy as np
import torch
from mmengine.logging import print_log


def rng_state():
    """The state of every global generator, like `torch.get_rng_state()` for all of them.

    Returns a dict: 'torch' (the CPU generator's ByteTensor), 'cuda' (one ByteTensor per device,
    only when CUDA is available), 'numpy' (the legacy `np.random` MT19937 state: 'keys' an int64
    tensor, 'pos', 'has_gauss', 'gauss') and 'random' (Python's: 'version', 'internal' an int64
    tensor, 'gauss_next'). Only tensors and plain Python values, so it survives `torch.save` and
    `torch.load(weights_only=True)` without allow-listing numpy types.
    """
    name, keys, pos, has_gauss, gauss = np.random.get_state(legacy=True)
    if name != 'MT19937':
        raise ValueError(f'rng_state: numpy bit generator {name!r}, expected MT19937')
    version, internal, gauss_next = random.getstate()
    state = dict(torch=torch.get_rng_state(),
                 numpy=dict(keys=torch.from_numpy(keys.astype(np.int64)), pos=int(pos),
                            has_gauss=int(has_gauss), gauss=float(gauss)),
                 random=dict(version=version, internal=torch.tensor(internal, dtype=torch.int64),
                             gauss_next=gauss_next))
    if torch.cuda.is_available():
        state['cuda'] = [s.cpu() for s in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state):
    """Restore the global generators from `rng_state()`'s dict (like `torch.set_rng_state`).

    Tensors may be on any device (mmengine loads a resume checkpoint onto the training device).
    The CUDA states are restored when the checkpoint has them and CUDA is available (device by
    device, for the devices both have; a different count is warned about: not exact then).
    """
    torch.set_rng_state(state['torch'].cpu())
    np_state = state['numpy']
    np.random.set_state(('MT19937', np_state['keys'].cpu().numpy().astype(np.uint32),
                         int(np_state['pos']), int(np_state['has_gauss']),
                         float(np_state['gauss'])))
    py_state = state['random']
    random.setstate((py_state['version'], tuple(int(v) for v in py_state['internal'].tolist()),
                     py_state['gauss_next']))
    cuda = state.get('cuda')
    if cuda is not None and torch.cuda.is_available():
        if len(cuda) != torch.cuda.device_count():
            print_log(f'set_rng_state: {len(cuda)} CUDA generator states for '
                      f'{torch.cuda.device_count()} devices; restoring the first ones',
                      logger='current', level=logging.WARNING)
        for device, device_state in enumerate(cuda[:torch.cuda.device_count()]):
            torch.cuda.set_rng_state(device_state.cpu(), device)
