"""ADeADA (D2ADA, paper 001): density-aware selection with category-balanced budgets."""
import torch

from .. import adeada
from ...ops.checks import is_real
from ..units import take_budget
from .base import STRATEGIES
from .contract import FEATURES, SOURCE
from .pool import PoolStrategy, descending
from .pool_baselines import seed_of

DECAYS = ('exponential', 'linear')
GMM_BACKENDS = ('auto', 'sklearn', 'torch')


@STRATEGIES.register_module(name='ADeADA')
class ADeADA(PoolStrategy):
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

    gmm_backend: who fits the per-class GMMs (adeada.importance). 'sklearn': sklearn's
    GaussianMixture on the CPU (the reference's); 'torch': the same EM in torch on the region
    features' device (mmseg_ext.active.torch_gmm; equal to float rounding); 'auto' (default):
    'torch' when the region features are on a CUDA device, else 'sklearn', so CPU runs are
    bit-identical to the sklearn fits and GPU trials keep the features on their device.
    """
    needs = PoolStrategy.needs | {FEATURES, SOURCE}

    def __init__(self, alpha: float = 1.0, beta: float = 1.0, decay: str = 'exponential',
                 indexing: str = 'paper', category_balance: bool = True, sigma: str = 'log',
                 max_components: int = 10, candidate_cap: int = None, ignore_classes=(),
                 n_jobs: int = -1, gmm_backend: str = 'auto', **options):
        super().__init__(**options)
        o = self.options
        for key in ('alpha', 'beta'):
            if not is_real(o[key], 0):
                self.bad(key, 'a finite number >= 0')
        if o['decay'] not in DECAYS:
            self.bad('decay', f'one of {DECAYS}')
        if o['indexing'] not in adeada.INDEXINGS:
            self.bad('indexing', "'paper' or 'reference'")
        if o['indexing'] == 'reference' and o['decay'] != 'exponential':
            self.bad('indexing', "'paper' with decay='linear'")
        if o['sigma'] not in adeada.SIGMAS:
            self.bad('sigma', "'reference', 'log' or 'uniform'")
        if not isinstance(o['category_balance'], bool):
            self.bad('category_balance', 'a bool')
        cap = o['candidate_cap']
        if cap is not None and not (isinstance(cap, int) and not isinstance(cap, bool)
                                    and cap >= 1):
            self.bad('candidate_cap', 'None or an int >= 1')
        ignore = o['ignore_classes']
        if not (isinstance(ignore, (tuple, list)) and all(
                isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in ignore)):
            self.bad('ignore_classes', 'a list of class ids >= 0')
        if o['gmm_backend'] not in GMM_BACKENDS:
            self.bad('gmm_backend', f'one of {GMM_BACKENDS}')

    def gmm_backend(self, feats):
        """The GMM backend for region features on feats' device ('auto' resolved)."""
        backend = self.options['gmm_backend']
        if backend == 'auto':
            return 'torch' if feats.is_cuda else 'sklearn'
        return backend

    def fraction(self, round_index):
        """The density share of round round_index (1-based): clipped to [0, 1], except that
        indexing='reference' keeps D2ADA's unclipped value (2 alpha in the first round)."""
        o = self.options
        if o['decay'] == 'linear':
            f = o['alpha'] - o['beta'] * (round_index - 1)
        else:
            f = adeada.density_fraction(round_index, o['alpha'], o['beta'], o['indexing'])
        return max(f, 0.0) if o['indexing'] == 'reference' else min(max(f, 0.0), 1.0)

    def needs_at(self, round_index):
        """The source regions only in rounds with a density share."""
        needs = super().needs_at(round_index)
        return needs if self.fraction(round_index) > 0 else needs - {SOURCE}

    def pick(self, pool, rows, budget, round_index, source, generator):
        density_budget = round(self.fraction(round_index) * budget)
        picked = rows[:0]
        if density_budget > 0:
            picked = self.density(pool, rows, density_budget, source, generator)
        # the rest in entropy order; with overshoot a budget <= 0 still buys one region (D2ADA)
        left = budget - int(pool.size[picked].sum())
        rest = rows[~torch.isin(rows, picked)]
        more = take_budget(descending(pool.entropy, rest), pool.size, left, self.overshoot)
        return torch.cat([picked, more])

    def density(self, pool, rows, budget, source, generator):
        o = self.options
        C = pool.probs.shape[1]
        if source.probs.shape[1] != C:
            raise ValueError(f'adeada: source regions have {source.probs.shape[1]} classes, '
                             f'target regions {C}')
        scores = adeada.importance(source.feats.double(), source.classes, pool.feats.double(),
                                   pool.classes, C, o['max_components'], seed=seed_of(generator),
                                   n_jobs=o['n_jobs'], gmm_backend=self.gmm_backend(pool.feats))
        classes = pool.classes
        for c in o['ignore_classes']:
            if c < C:
                scores[classes == c] = float('nan')
        usable = torch.isfinite(scores)
        if not usable.any():
            return rows[:0]
        if not o['category_balance']:
            cands = rows[usable[rows]]
            return take_budget(descending(scores, cands), pool.size, budget, self.overshoot)
        kl = adeada.class_kl(scores, classes, C)
        budgets = adeada.class_budgets(kl, budget, o['sigma'])
        available = torch.zeros(len(pool), dtype=torch.bool, device=rows.device)
        available[rows] = True
        picks = []
        for c in torch.nonzero(budgets > 0).flatten().tolist():
            cands = descending(scores, torch.nonzero(usable & (classes == c)).flatten())
            if o['candidate_cap'] is not None:
                cands = cands[:o['candidate_cap']]
            cands = cands[available[cands]]
            picks.append(take_budget(cands, pool.size, int(budgets[c]), self.overshoot))
        return torch.cat(picks) if picks else rows[:0]
