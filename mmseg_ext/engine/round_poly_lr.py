from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler
from mmseg.registry import PARAM_SCHEDULERS


@PARAM_SCHEDULERS.register_module()
class RoundPolyLR(LRSchedulerMixin, _ParamScheduler):
    """Poly decay restarted every `period` steps (D2ADA's per-round fine-tuning schedule):
    lr = (base - eta_min) * (1 - t / period) ** power + eta_min with t = (step - begin) mod
    period, i.e. back to the base lr at the start of every round. (mmengine's PolyLR is
    chained on the current lr, so a second PolyLR starting where the first ended stays at its
    eta_min.) D2ADA also floors the lr at 1e-6: set eta_min for that.
    """

    def __init__(self, optimizer, period, eta_min=0.0, power=0.9, begin=0, end=INF,
                 last_step=-1, by_epoch=False, verbose=False):
        if not isinstance(period, int) or period < 1:
            raise ValueError(f'RoundPolyLR: period must be an int >= 1, got {period!r}')
        self.period, self.eta_min, self.power = period, eta_min, power
        super().__init__(optimizer, begin=begin, end=end, last_step=last_step,
                         by_epoch=by_epoch, verbose=verbose)

    def _get_value(self):
        t = (self.last_step - self.begin) % self.period
        factor = (1 - t / self.period) ** self.power
        return [(base - self.eta_min) * factor + self.eta_min for base in self.base_values]
