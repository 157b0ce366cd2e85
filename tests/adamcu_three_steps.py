"""Three SGD steps of the tiny SynthShift ADAMCUSegmentor (the model of test_adamcu_segmentor.py)
on a fixed two-domain batch; returns the logged losses of each step. Shared by the flag test of
test_adamcu_fidelity.py and by the script that produced its reference values on ae49e50:

    git -C /work/main worktree add /tmp/ref ae49e50 --detach
    cp tests/adamcu_three_steps.py /tmp/ref/tests/
    cd /tmp/ref && OMP_NUM_THREADS=1 PYTHONPATH=$PWD:$PWD/tests python tests/adamcu_three_steps.py

(ae49e50 knows none of the issue-21 flags: `flags` is empty there, which is its behaviour.)
"""
import copy
import os.path as osp
import sys

import torch

KEYS = ('loss', 'decode.loss_ce', 'aux.loss_ce', 'tgt.decode.loss_ce', 'loss_pseudo', 'loss_mcu')


def three_step_losses(synthshift_root, flags=None, contrastive_flags=None):
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import OptimWrapper
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    from runner_utils import REPO, TINY_SYNTHSHIFT

    import mmseg_ext  # noqa: F401  (registers the modules)
    from mmseg_ext.active.adamcu import uncertainty
    from mmseg_ext.datasets import TwoDomainDataset
    register_all_modules(init_default_scope=True)
    from test_adamcu_segmentor import AUX

    cfg = Config.fromfile(osp.join(REPO, 'configs/_base_/models/tiny_synthshift.py'))
    model_cfg = copy.deepcopy(cfg.model.to_dict())
    model_cfg.update(type='ADAMCUSegmentor', auxiliary_head=copy.deepcopy(AUX), pi_high=0.9,
                     pi_low=0.5, projection=dict(channels=16),
                     contrastive_loss=dict(type='MultiLevelContrastiveLoss',
                                           max_anchors_per_class=16, max_positives_per_class=32,
                                           max_negatives_per_class=32,
                                           **(contrastive_flags or {})),
                     **(flags or {}))
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
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    with torch.no_grad():  # thresholds at the 1/3 and 2/3 quantiles: all groups populated
        out = model.domain_forward(data['target_inputs'], data['target_data_samples'])
        u = uncertainty(out.logits, out.aux_logits, model.gamma).flatten()
    model.pi_low, model.pi_high = (float(u.quantile(q)) for q in (1 / 3, 2 / 3))
    model.train()
    ow = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    steps = []
    for _ in range(3):
        log_vars = model.train_step(copy.deepcopy(data), ow)
        steps.append({k: float(log_vars[k]) for k in KEYS})
    return steps


if __name__ == '__main__':
    import tempfile

    from mmseg_ext.datasets import ensure_synthshift
    from runner_utils import TINY_SYNTHSHIFT
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = ensure_synthshift(osp.join(tmp, 'synthshift'), progress=False, **TINY_SYNTHSHIFT)
        flags = eval(sys.argv[1]) if len(sys.argv) > 1 else None
        for step in three_step_losses(root, flags):
            print(repr(step))
