"""TrialTensorboardHook: a trial's selection times in its TensorBoard files (sweeps/tracking.py
says what a trial logs). Apart from tracking.py so that the driver's checks do not import
mmengine and torch: a bad `sweeps/run.py` argument is refused in about a second."""
from mmengine.hooks import Hook
from mmseg.registry import HOOKS


def _count(hub, key):
    try:
        return len(hub.get_scalar(key).data[0])
    except KeyError:
        return 0


@HOOKS.register_module()
class TrialTensorboardHook(Hook):
    """Logs each selection round's seconds (the message hub's `active/seconds`, step =
    `active/round`) and ADA-MCU's `adamcu/select_seconds` (step = iteration) when the hooks
    update them."""
    priority = 'LOWEST'

    def before_train(self, runner):
        hub = runner.message_hub
        self.seen = {k: _count(hub, k) for k in ('active/seconds', 'adamcu/select_seconds')}

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        hub = runner.message_hub
        for key, tag in (('active/seconds', 'selection/seconds'),
                         ('adamcu/select_seconds', 'adamcu/select_seconds')):
            n = _count(hub, key)
            if n > self.seen.get(key, 0):
                self.seen[key] = n
                value = float(hub.get_scalar(key).current())
                step = int(hub.get_scalar('active/round').current()) + 1 \
                    if key == 'active/seconds' and _count(hub, 'active/round') \
                    else runner.iter + 1
                runner.visualizer.add_scalars({tag: value}, step=step)
