"""Three SGD steps of the tiny SynthShift ADAMCUSegmentor (the model of test_adamcu_segmentor.py)
on a fixed two-domain batch; returns the logged losses of each step. Shared by the flag test of
test_adamcu_fidelity.py and by the script that produced its reference values on ae49e50:

    git -C /work/main worktree add /tmp/ref ae49e50 --detach
    cp tests/adamcu_three_steps.py /tmp/ref/tests/
    cd /tmp/ref && OMP_NUM_THREADS=1 PYTHONPATH=$PWD:$PWD/tests python tests/adamcu_three_steps.py

(ae49e50 knows none of the issue-21 flags: none is given there, which is its behaviour.) It
prints the three model steps, then `runner_three_steps` of the full model and of "w/o AS", each
on a line that starts with RESULT. test_adamcu_fidelity.py's `ae49e50` fixture runs it so, on
the machine of the test.
"""
import copy
import os.path as osp
import sys

import torch

KEYS = ('loss', 'decode.loss_ce', 'aux.loss_ce', 'tgt.decode.loss_ce', 'loss_pseudo', 'loss_mcu')


def make_batch(synthshift_root):
    """Two source and two target images of the tiny SynthShift, ~10% of the target pixels
    labelled (255 elsewhere), as after an active-selection round."""
    from mmengine.dataset import pseudo_collate
    from runner_utils import TINY_SYNTHSHIFT

    from mmseg_ext.datasets import TwoDomainDataset
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                dict(type='PackSegInputs')]
    ds = TwoDomainDataset(
        source=dict(type='SynthShiftDataset', domain='source', data_root=str(synthshift_root),
                    generate=dict(TINY_SYNTHSHIFT), pipeline=pipeline),
        target=dict(type='SynthShiftDataset', domain='target', split='train',
                    data_root=str(synthshift_root), generate=dict(TINY_SYNTHSHIFT),
                    pipeline=pipeline))
    data = pseudo_collate([ds[i] for i in range(2)])
    g = torch.Generator().manual_seed(0)
    for s in data['target_data_samples']:  # ~10% of the target pixels labelled
        lab = s.gt_sem_seg.data
        keep = torch.rand(lab.shape, generator=g) < 0.1
        s.gt_sem_seg.data = torch.where(keep, lab, torch.full_like(lab, 255))
    return data


def three_step_losses(synthshift_root, flags=None, contrastive_flags=None):
    from mmengine.optim import OptimWrapper
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules

    import mmseg_ext  # noqa: F401  (registers the modules)
    register_all_modules(init_default_scope=True)
    from test_adamcu_segmentor import _calibrate, _model_cfg

    model_cfg = _model_cfg(**(flags or {}))
    model_cfg['contrastive_loss'].update(contrastive_flags or {})
    data = make_batch(synthshift_root)
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    _calibrate(model, data)  # thresholds at the 1/3 and 2/3 quantiles: all groups populated
    model.train()
    ow = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    steps = []
    for _ in range(3):
        log_vars = model.train_step(copy.deepcopy(data), ow)
        steps.append({k: float(log_vars[k]) for k in KEYS})
    return steps


def runner_three_steps(synthshift_root, work_dir, model_flags=None, strategy=None,
                       hook_flags=None):
    """Three iterations of configs/adamcu/synthshift.py on a real Runner (tiny SynthShift, random
    init, 5% budget): per iteration the logged losses and, at the end, the pixels on the ledger.
    `strategy` updates the hook's strategy dict; the flags are set as given."""
    from mmengine.hooks import Hook
    from mmseg.registry import HOOKS, RUNNERS
    from mmseg.utils import register_all_modules
    from runner_utils import tiny_config

    from mmseg_ext.active.label_store import ActiveLabelStore
    register_all_modules(init_default_scope=True)

    seen = []

    class Record(Hook):
        priority = 'LOWEST'

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            seen.append({k: float(outputs[k]) for k in RUNNER_KEYS if k in outputs})

    HOOKS.register_module(name='RecordThreeStepLosses', module=Record, force=True)
    cfg = tiny_config('configs/adamcu/synthshift.py', work_dir, synthshift_root, iters=3)
    name = 'three_steps_' + osp.basename(str(work_dir))
    cfg.experiment_name = cfg.visualizer.name = name  # not the instance of an earlier runner
    cfg.model.update(model_flags or {})
    hook = cfg.custom_hooks[0]
    hook.update(budget=dict(ratio=0.05), commit_interval=3, **(hook_flags or {}))
    hook['strategy'] = dict(hook['strategy'], **(strategy or {}))
    cfg.custom_hooks.append(dict(type='RecordThreeStepLosses'))
    RUNNERS.build(cfg).train()
    ledger = ActiveLabelStore(osp.join(str(work_dir), 'active_labels')).ledger()
    return seen, sum(r['pixels'] for r in ledger)


RESULT = 'three-steps: '  # the prefix of the lines the script prints its results on
RUNNER_KEYS = ('loss', 'decode.loss_ce', 'tgt.decode.loss_ce', 'loss_pseudo', 'loss_mcu')


if __name__ == '__main__':
    import tempfile

    from mmseg_ext.datasets import ensure_synthshift
    from runner_utils import TINY_SYNTHSHIFT
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = ensure_synthshift(osp.join(tmp, 'synthshift'), progress=False, **TINY_SYNTHSHIFT)
        flags = eval(sys.argv[1]) if len(sys.argv) > 1 else None
        for step in three_step_losses(root, flags):
            print(RESULT + repr(step))
        for strategy in (None, dict(adaptive_sampling=False)):
            with tempfile.TemporaryDirectory() as work:
                print(RESULT + repr(runner_three_steps(root, work, strategy=strategy)))
