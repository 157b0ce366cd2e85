"""Dataset-wide region acquisition under a pixel budget: ADeADA and the region baselines of its
supplement (section B), on a RegionPool of the whole target pool (mmseg_ext.active.region_pool).

    strategy = build_region_strategy('adeada', alpha=1.0, beta=1.0)
    rows = strategy.select(pool, budget, round_index=1, source=source_pool, generator=g)

``select`` returns the pool rows (regions) to buy this round, in buying order; ``budget`` is
the round's pixel budget. Regions are ranked over the whole pool (not per image) and bought in
order while their pixels fit: ``take_budget`` stops before the first region that would exceed
the budget (``overshoot=False``, default: never more than the budget) or, with
``overshoot=True`` (D2ADA's ``expand_training_set``), keeps the region whose pixels cross it
and so always buys at least one region. Pixels are label pixels, void included (as D2ADA).

Strategies (options in brackets):
  rand   uniform random order (the generator)
  ent    mean pixel entropy of the region, highest first
  conf   mean 1 - max p (least confidence)            ("CONF" in the paper's tables)
  mar    mean -(p1 - p2) (smallest margin first)
  badge  BADGE: k-means++ seeding on region-averaged gradient embeddings
  redal  ReDAL: entropy + edge_weight * edge fraction, diversity-aware greedy [edge_weight=1.0,
         decay=0.95]
  aada   AADA: domain-discriminator importance weight x entropy (logistic regression on region
         features, source vs target)
  clue   CLUE: uncertainty-weighted k-means, the region nearest each centroid
  adeada ADeADA (see AdeadaStrategy)
The clustering baselines (badge, clue) pick ``ceil(budget / mean available region size)``
regions (the number the budget buys on average); when those hold fewer pixels than the budget
the rest is bought in entropy order. See mmseg_ext.active.region_baselines for their details.
"""
import math
import numbers

import torch

from . import adeada
from . import region_baselines as RB

DECAYS = ('exponential', 'linear')


def take_budget(order, size, budget, overshoot=False):
    """The prefix of `order` (row indices) whose pixels (`size[order]`) fit in `budget`."""
    if order.numel() == 0:
        return order
    cum = size[order].cumsum(0)
    n = int((cum <= budget).sum())
    if overshoot:
        n = min(n + 1, order.numel())
    return order[:n]


def _descending(score, rows):
    """rows sorted by score (descending; ties to the lower row)."""
    return rows[torch.sort(score[rows], descending=True, stable=True).indices]


def _is_real(v, lo=0.0):
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) \
        and v >= lo


class RegionStrategy:
    """Base: options validated against ``defaults``; ``needs`` what the pool must hold."""
    name = None
    unit = 'region'
    defaults = {}
    needs = frozenset()  # of 'feats', 'grad', 'edges'

    def __init__(self, overshoot=False, **options):
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            raise ValueError(f'{self.name}: unknown option(s) {unknown}; '
                             f'known: {sorted(self.defaults)}')
        self.options = {**self.defaults, **options}
        self.overshoot = bool(overshoot)
        self._validate()

    def __repr__(self):
        return f'{type(self).__name__}({self.name!r}, {self.options})'

    def _bad(self, key, what):
        raise ValueError(f'{self.name}: option {key} must be {what}, got {self.options[key]!r}')

    def _validate(self):
        pass

    def needs_source(self, round_index):
        return False

    def select(self, pool, budget, round_index=1, source=None, generator=None):
        if not _is_real(budget) or budget <= 0:
            raise ValueError(f'{self.name}: the round budget must be > 0 pixels, got {budget!r}')
        rows = pool.available.nonzero().flatten()
        have = int(pool.size[rows].sum())
        if have < budget:
            raise ValueError(f'{self.name}: the round budget of {budget:.0f} pixels is above the '
                             f'{have} pixels of the regions left in the pool')
        if self.needs_source(round_index) and source is None:
            raise ValueError(f'{self.name} needs the source regions (source=)')
        return self._select(pool, rows, budget, round_index, source, generator)

    def _select(self, pool, rows, budget, round_index, source, generator):
        order = self.order(pool, rows, budget, source, generator)
        return take_budget(order, pool.size, budget, self.overshoot)

    def order(self, pool, rows, budget, source, generator):
        raise NotImplementedError

    def fill(self, pool, rows, picked, budget):
        """`picked` plus regions in entropy order until `budget` (clustering baselines)."""
        picked = take_budget(picked, pool.size, budget, self.overshoot)
        left = budget - int(pool.size[picked].sum())
        if left <= 0:
            return picked
        rest = rows[~torch.isin(rows, picked)]
        more = take_budget(_descending(pool.entropy, rest), pool.size, left, self.overshoot)
        return torch.cat([picked, more])


class Rand(RegionStrategy):
    name = 'rand'

    def order(self, pool, rows, budget, source, generator):
        gen_device = generator.device if generator is not None else 'cpu'
        return rows[torch.randperm(rows.numel(), generator=generator, device=gen_device)]


class ScoreStrategy(RegionStrategy):
    """Regions by one pooled score, highest first."""
    field = None

    def order(self, pool, rows, budget, source, generator):
        return _descending(getattr(pool, self.field), rows)


class Ent(ScoreStrategy):
    name, field = 'ent', 'entropy'


class Conf(ScoreStrategy):
    name, field = 'conf', 'confidence'


class Mar(ScoreStrategy):
    name, field = 'mar', 'margin'


def _count(pool, rows, budget):
    return min(rows.numel(), math.ceil(budget / float(pool.size[rows].double().mean())))


def _seed(generator):
    return int(torch.randint(2 ** 31 - 1, (1,), generator=generator)) if generator else 0


class Badge(RegionStrategy):
    name = 'badge'
    needs = frozenset({'feats', 'grad'})

    def _select(self, pool, rows, budget, round_index, source, generator):
        picks = RB.badge_order(pool.grad[rows], _count(pool, rows, budget), seed=_seed(generator))
        return self.fill(pool, rows, rows[picks], budget)


class Clue(RegionStrategy):
    name = 'clue'
    needs = frozenset({'feats'})

    def _select(self, pool, rows, budget, round_index, source, generator):
        picks = RB.clue_order(pool.feats[rows], pool.entropy[rows], _count(pool, rows, budget),
                              seed=_seed(generator))
        return self.fill(pool, rows, rows[picks], budget)


class Redal(RegionStrategy):
    name = 'redal'
    defaults = {'edge_weight': 1.0, 'decay': 0.95}
    needs = frozenset({'feats', 'edges'})

    def _validate(self):
        if not _is_real(self.options['edge_weight']):
            self._bad('edge_weight', 'a number >= 0')
        if not (_is_real(self.options['decay']) and self.options['decay'] <= 1):
            self._bad('decay', 'a number in [0, 1]')

    def order(self, pool, rows, budget, source, generator):
        o = self.options
        picks = RB.redal_order(pool.entropy[rows], pool.edge[rows], pool.feats[rows],
                               rows.numel(), edge_weight=o['edge_weight'], decay=o['decay'],
                               n_clusters=_count(pool, rows, budget), seed=_seed(generator))
        return rows[picks]


class Aada(RegionStrategy):
    name = 'aada'
    needs = frozenset({'feats'})

    def needs_source(self, round_index):
        return True

    def order(self, pool, rows, budget, source, generator):
        score = RB.aada_scores(source.feats, pool.feats[rows], pool.entropy[rows],
                               seed=_seed(generator))
        return rows[torch.sort(score, descending=True, stable=True).indices]


class AdeadaStrategy(RegionStrategy):
    """ADeADA: density-aware selection with category-balanced budgets, then uncertainty.

    Round k's budget B splits into B_d = round(clip(f_k, 0, 1) * B) bought by density and the
    rest by entropy (Eq. 7). f_k: decay='exponential' alpha * 2**(-beta (k - 1)) (the paper's
    "half decay" with beta = 1), decay='linear' alpha - beta (k - 1) (the supplement's "linear
    decay": alpha 1, beta 0.2). Pure uncertainty = alpha 0, pure density = alpha 1 beta 0,
    even = alpha 0.5 beta 0. indexing='reference' takes D2ADA's off-by-one (f_1 = 2 alpha for
    beta 1) unclipped above: D2ADA buys 2 alpha B by density in its first round and, with
    overshoot, still one region by entropy.

    Density part: every target region of the pool (bought ones included, as D2ADA) and every
    source region gets its predicted class; importance = log d_T(z) - log d_S(z) from per-class
    GMMs (adeada.importance). category_balance=True: the classes' KL estimates (the mean
    importance of their regions) share B_d (adeada.class_budgets, `sigma`) and each class buys
    its available regions by importance; False (Table 2 row b): one ranking over all classes.
    `candidate_cap` (D2ADA: 200) limits a class to its top regions of the whole pool *before*
    dropping bought ones; None (default) = no limit. Classes in `ignore_classes` (D2ADA: SYNTHIA's
    terrain, truck, train) and classes without a fit (fewer than 2 target regions, or fewer
    source regions than components: NaN importance, a documented skip) get no density budget;
    density budget a class cannot spend (too few regions) goes to the uncertainty part.
    """
    name = 'adeada'
    defaults = {'alpha': 1.0, 'beta': 1.0, 'decay': 'exponential', 'indexing': 'paper',
                'category_balance': True, 'sigma': 'log', 'max_components': 10,
                'candidate_cap': None, 'ignore_classes': (), 'n_jobs': -1}
    needs = frozenset({'feats'})

    def _validate(self):
        o = self.options
        for key in ('alpha', 'beta'):
            if not _is_real(o[key]):
                self._bad(key, 'a finite number >= 0')
        if o['decay'] not in DECAYS:
            self._bad('decay', f'one of {DECAYS}')
        if o['indexing'] not in ('paper', 'reference'):
            self._bad('indexing', "'paper' or 'reference'")
        if o['indexing'] == 'reference' and o['decay'] != 'exponential':
            self._bad('indexing', "'paper' with decay='linear'")
        if o['sigma'] not in ('reference', 'log', 'uniform'):
            self._bad('sigma', "'reference', 'log' or 'uniform'")
        if not isinstance(o['category_balance'], bool):
            self._bad('category_balance', 'a bool')
        cap = o['candidate_cap']
        if cap is not None and not (isinstance(cap, int) and not isinstance(cap, bool)
                                    and cap >= 1):
            self._bad('candidate_cap', 'None or an int >= 1')
        ignore = o['ignore_classes']
        if not (isinstance(ignore, (tuple, list)) and all(
                isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in ignore)):
            self._bad('ignore_classes', 'a list of class ids >= 0')

    def fraction(self, round_index):
        """The density share of round round_index (1-based): clipped to [0, 1], except that
        indexing='reference' keeps D2ADA's unclipped value (2 alpha in the first round)."""
        o = self.options
        if o['decay'] == 'linear':
            f = o['alpha'] - o['beta'] * (round_index - 1)
        else:
            f = adeada.density_fraction(round_index, o['alpha'], o['beta'], o['indexing'])
        return max(f, 0.0) if o['indexing'] == 'reference' else min(max(f, 0.0), 1.0)

    def needs_source(self, round_index):
        return self.fraction(round_index) > 0

    def _select(self, pool, rows, budget, round_index, source, generator):
        density_budget = round(self.fraction(round_index) * budget)
        picked = rows[:0]
        if density_budget > 0:
            picked = self.density(pool, rows, density_budget, source, generator)
        # the rest in entropy order; with overshoot a budget <= 0 still buys one region (D2ADA)
        left = budget - int(pool.size[picked].sum())
        rest = rows[~torch.isin(rows, picked)]
        more = take_budget(_descending(pool.entropy, rest), pool.size, left, self.overshoot)
        return torch.cat([picked, more])

    def density(self, pool, rows, budget, source, generator):
        o = self.options
        C = pool.probs.shape[1]
        if source.probs.shape[1] != C:
            raise ValueError(f'adeada: source regions have {source.probs.shape[1]} classes, '
                             f'target regions {C}')
        scores = adeada.importance(source.feats.double(), source.classes, pool.feats.double(),
                                   pool.classes, C, o['max_components'], seed=_seed(generator),
                                   n_jobs=o['n_jobs'])
        classes = pool.classes
        for c in o['ignore_classes']:
            if c < C:
                scores[classes == c] = float('nan')
        usable = torch.isfinite(scores)
        if not usable.any():
            return rows[:0]
        if not o['category_balance']:
            cands = rows[usable[rows]]
            return take_budget(_descending(scores, cands), pool.size, budget, self.overshoot)
        kl = adeada.class_kl(scores, classes, C)
        budgets = adeada.class_budgets(kl, budget, o['sigma'])
        available = torch.zeros(len(pool), dtype=torch.bool)
        available[rows] = True
        picks = []
        for c in torch.nonzero(budgets > 0).flatten().tolist():
            cands = _descending(scores, torch.nonzero(usable & (classes == c)).flatten())
            if o['candidate_cap'] is not None:
                cands = cands[:o['candidate_cap']]
            cands = cands[available[cands]]
            picks.append(take_budget(cands, pool.size, int(budgets[c]), self.overshoot))
        return torch.cat(picks) if picks else rows[:0]


REGION_STRATEGIES = {c.name: c for c in (Rand, Ent, Conf, Mar, Badge, Redal, Aada, Clue,
                                         AdeadaStrategy)}


def build_region_strategy(name, overshoot=False, **options):
    """Instantiate a registered region strategy; ValueError for unknown names or options."""
    if name not in REGION_STRATEGIES:
        raise ValueError(f'unknown region strategy {name!r}; known: {sorted(REGION_STRATEGIES)}')
    return REGION_STRATEGIES[name](overshoot=overshoot, **options)
