"""The region baselines of D2ADA's supplement (section B), ranked over the whole pool.

  Pool-RAND  uniform random order (the generator)
  Pool-ENT   mean pixel entropy of the region, highest first
  Pool-CONF  mean 1 - max p (least confidence)              ("CONF" in the paper's tables)
  Pool-MAR   mean -(p1 - p2) (smallest margin first)
  BADGE      k-means++ seeding on region-averaged gradient embeddings
  ReDAL      entropy + edge_weight * edge fraction, diversity-aware greedy [edge_weight=1.0,
             decay=0.95, n_clusters=500]
  AADA       domain-discriminator importance weight x entropy (logistic regression on region
             features, source vs target)
  CLUE       uncertainty-weighted k-means, the region nearest each centroid
The paper's RAND / ENT / MAR are prefixed Pool- because RIPU's per-image baselines hold those
names. The clustering baselines (BADGE, CLUE) pick ``ceil(budget / mean available region
size)`` regions (the number the budget buys on average); when those hold fewer pixels than the
budget the rest is bought in entropy order. See mmseg_ext.active.region_baselines.

ReDAL's k-means cluster count: n_clusters=500 (default) is D2ADA's 2-D ReDAL
(active_selection/__init__.py, ReDALSelector(2, 2, 500, 0.95), supplement section B), capped at
the number of available regions (so on a pool of fewer than 500 regions every region is its own
cluster); an int sets another count (same cap); n_clusters='budget' is this project's former
rule, as many clusters as the round's budget buys regions (``ceil(budget / mean available
region size)``, about 1,190 at Cityscapes scale), whose k-means cost grows with the pool
times the budget.
"""
import math

import torch

from .. import region_baselines as RB
from ...ops.checks import is_real
from .base import STRATEGIES
from .contract import EDGES, FEATURES, GRAD, SOURCE
from .pool import PoolStrategy, descending


def _count(pool, rows, budget):
    return min(rows.numel(), math.ceil(budget / float(pool.size[rows].double().mean())))


def seed_of(generator) -> int:
    """An int seed drawn from the round's generator (0 without one)."""
    return int(torch.randint(2 ** 31 - 1, (1,), generator=generator)) if generator else 0


@STRATEGIES.register_module(name='Pool-RAND')
class PoolRand(PoolStrategy):

    def order(self, pool, rows, budget, source, generator):
        gen_device = generator.device if generator is not None else 'cpu'
        return rows[torch.randperm(rows.numel(), generator=generator,
                                   device=gen_device).to(rows.device)]


class PooledScoreStrategy(PoolStrategy):
    """Regions by one pooled score of the RegionPool (``field``), highest first."""
    field = None

    def order(self, pool, rows, budget, source, generator):
        return descending(getattr(pool, self.field), rows)


@STRATEGIES.register_module(name='Pool-ENT')
class PoolEnt(PooledScoreStrategy):
    field = 'entropy'


@STRATEGIES.register_module(name='Pool-CONF')
class PoolConf(PooledScoreStrategy):
    field = 'confidence'


@STRATEGIES.register_module(name='Pool-MAR')
class PoolMar(PooledScoreStrategy):
    field = 'margin'


@STRATEGIES.register_module(name='BADGE')
class Badge(PoolStrategy):
    needs = PoolStrategy.needs | {FEATURES, GRAD}

    def pick(self, pool, rows, budget, round_index, source, generator):
        picks = RB.badge_order(pool.grad[rows], _count(pool, rows, budget),
                               seed=seed_of(generator))
        return self.fill(pool, rows, rows[picks], budget)


@STRATEGIES.register_module(name='CLUE')
class Clue(PoolStrategy):
    needs = PoolStrategy.needs | {FEATURES}

    def pick(self, pool, rows, budget, round_index, source, generator):
        picks = RB.clue_order(pool.feats[rows], pool.entropy[rows], _count(pool, rows, budget),
                              seed=seed_of(generator))
        return self.fill(pool, rows, rows[picks.to(rows.device)], budget)


@STRATEGIES.register_module(name='ReDAL')
class Redal(PoolStrategy):
    needs = PoolStrategy.needs | {FEATURES, EDGES}

    def __init__(self, edge_weight: float = 1.0, decay: float = 0.95, n_clusters=500,
                 **options):
        super().__init__(**options)
        if not is_real(edge_weight, 0):
            self.bad('edge_weight', 'a number >= 0')
        if not (is_real(decay, 0) and decay <= 1):
            self.bad('decay', 'a number in [0, 1]')
        k = n_clusters
        if k != 'budget' and not (isinstance(k, int) and not isinstance(k, bool) and k >= 1):
            self.bad('n_clusters', "an int >= 1 (D2ADA: 500) or 'budget'")

    def clusters(self, pool, rows, budget):
        """The k-means cluster count of a round (see the module docstring), capped at rows."""
        k = self.options['n_clusters']
        return min(_count(pool, rows, budget) if k == 'budget' else k, rows.numel())

    def order(self, pool, rows, budget, source, generator):
        o = self.options
        picks = RB.redal_order(pool.entropy[rows], pool.edge[rows], pool.feats[rows],
                               rows.numel(), edge_weight=o['edge_weight'], decay=o['decay'],
                               n_clusters=self.clusters(pool, rows, budget),
                               seed=seed_of(generator))
        return rows[picks.to(rows.device)]


@STRATEGIES.register_module(name='AADA')
class Aada(PoolStrategy):
    needs = PoolStrategy.needs | {FEATURES, SOURCE}

    def order(self, pool, rows, budget, source, generator):
        score = RB.aada_scores(source.feats, pool.feats[rows], pool.entropy[rows],
                               seed=seed_of(generator))
        return rows[torch.sort(score, descending=True, stable=True).indices.to(rows.device)]
