"""Pool scope: regions ranked over the whole target pool under a pixel budget.

    strategy = build_strategy(dict(type='ADeADA', alpha=1.0, beta=1.0), overshoot=False)
    rows = strategy.select(pool, budget, round_index=1, source=source_pool, generator=g)

``pool`` is a RegionPool of every target image (mmseg_ext.active.region_pool); ``select``
returns the pool rows (regions) to buy this round, in buying order; ``budget`` is the round's
pixel budget. Regions are bought in order while their pixels fit (units.take_budget): never
more than the budget (``overshoot=False``, default) or, with ``overshoot=True`` (D2ADA's
``expand_training_set``), also the region whose pixels cross it, so at least one region is
bought. Pixels are label pixels, void included (as D2ADA). ``needs`` (contract) says what the
pool rows must hold beyond the mean softmax and the ENT/CONF/MAR means (FEATURES, GRAD, EDGES)
and whether ``source`` regions are handed (SOURCE; ``needs_at(round_index)``).
"""
import torch

from ...ops.checks import is_real
from ..units import take_budget
from .contract import LOGITS, SOURCE, Strategy


def descending(score, rows):
    """rows sorted by score (descending; ties to the lower row)."""
    return rows[torch.sort(score[rows], descending=True, stable=True).indices]


class PoolStrategy(Strategy):
    scope = 'pool'
    unit = 'region'
    needs = frozenset({LOGITS})
    hook_arguments = frozenset({'overshoot'})

    def __init__(self, overshoot: bool = False):
        """overshoot: the hook's budget_overshoot (see the module docstring)."""
        super().__init__()
        self.overshoot = bool(overshoot)

    def select(self, pool, budget, round_index=1, source=None, generator=None) -> torch.Tensor:
        if not is_real(budget) or budget <= 0:
            raise ValueError(f'{self.name}: the round budget must be > 0 pixels, got {budget!r}')
        rows = pool.available.nonzero().flatten()
        have = int(pool.size[rows].sum())
        if have < budget:
            raise ValueError(f'{self.name}: the round budget of {budget:.0f} pixels is above the '
                             f'{have} pixels of the regions left in the pool')
        if SOURCE in self.needs_at(round_index) and source is None:
            raise ValueError(f'{self.name} needs the source regions (source=)')
        return self.pick(pool, rows, budget, round_index, source, generator)

    def pick(self, pool, rows, budget, round_index, source, generator) -> torch.Tensor:
        order = self.order(pool, rows, budget, source, generator)
        return take_budget(order, pool.size, budget, self.overshoot)

    def order(self, pool, rows, budget, source, generator) -> torch.Tensor:
        raise NotImplementedError

    def fill(self, pool, rows, picked, budget) -> torch.Tensor:
        """`picked` plus regions in entropy order until `budget` (clustering baselines)."""
        picked = take_budget(picked, pool.size, budget, self.overshoot)
        left = budget - int(pool.size[picked].sum())
        if left <= 0:
            return picked
        rest = rows[~torch.isin(rows, picked)]
        more = take_budget(descending(pool.entropy, rest), pool.size, left, self.overshoot)
        return torch.cat([picked, more])
