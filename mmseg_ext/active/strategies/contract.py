"""The strategy contract: what a strategy declares, and what the hooks then hand it.

A strategy is a ``Strategy`` subclass registered with ``@STRATEGIES.register_module(name=...)``
(mmseg_ext.active.strategies.base; the name is what configs and spaces type). It declares:

- ``scope``: which hook drives it. ``image``: ActiveSelectionHook calls
  ``select(logits, count, blocked=, generator=, **given)`` per image and round and gets a
  ``Pick`` (its ``pseudo`` map, when not None, is stored as pseudo labels apart from the bought
  ones). ``pool``: RegionSelectionHook calls ``select(pool, budget, round_index, source,
  generator)`` over a RegionPool of the whole target pool and gets the rows to buy.
  ``online``: AdaptiveSamplingHook buys during training (ADA-MCU).
- ``unit``: what it buys ('region', 'pixel', 'segment', 'point').
- ``needs``: a frozenset of the names below. The hook computes and hands exactly these
  (``needs_at(round_index)`` may narrow them per round, e.g. ADeADA's source regions only in
  rounds with a density share):
    LOGITS      the model's logits at label size (without: an empty (0, H, W) tensor of that
                size, and the hook's score_checkpoint is not loaded for it)
    IMAGE       the RGB target image at label size, (H, W, 3) uint8 (``image=``)
    FEATURES    the decode head's pre-classifier features at label size, (D, H, W)
                (``feats=``; pool: region means in ``RegionPool.feats``)
    AUX_LOGITS  the first auxiliary head's logits at label size, (C, H, W) (``aux_logits=``)
    BUDGET      image scope: the hook's budget (without it the options say what an image gets
                and the hook takes budget=None)
    SOURCE      pool scope: the source images' regions (``source=``)
    GRAD, EDGES pool scope: BADGE gradient embeddings (implies FEATURES) and the fraction of
                Canny edge pixels (implies IMAGE) of each region
- its options: the keyword arguments of its constructor, each with a default (mmseg style). A
  subclass that takes ``**kwargs`` adds its parent's. ``defaults`` (every option with its
  default), the ``strategy.<option>`` sweep knobs and ``options`` (the values of an instance,
  recorded with every round) are derived from the signatures; the constructor checks its
  arguments and calls ``self.bad(key, what)`` for a bad one; an unknown option is a one-line
  ValueError naming the known ones. Constructor arguments that the hook gives from its own
  arguments (``hook_arguments``: a pool strategy's ``overshoot``, the hook's budget_overshoot)
  are not options.
"""
import abc
import inspect
from types import MappingProxyType

from ..region_pool import EDGES, FEATS, GRAD

LOGITS, IMAGE, FEATURES, AUX_LOGITS = 'logits', 'image', FEATS, 'aux_logits'
BUDGET, SOURCE = 'budget', 'source'
NEEDS = frozenset({LOGITS, IMAGE, FEATURES, AUX_LOGITS, BUDGET, SOURCE, GRAD, EDGES})
IMPLIES = {GRAD: FEATURES, EDGES: IMAGE}
MODEL_OUTPUTS = frozenset({LOGITS, FEATURES, AUX_LOGITS})


def closed(needs) -> frozenset:
    """``needs`` with what each of them implies (GRAD -> FEATURES, EDGES -> IMAGE)."""
    needs = frozenset(needs)
    return needs | {IMPLIES[n] for n in needs if n in IMPLIES}


def signature_options(cls) -> dict:
    """{option: default} from the constructors' keyword arguments, following ``**kwargs`` up
    the MRO; a base's options come first, a subclass's default wins."""
    inits = []
    for klass in cls.__mro__:
        init = vars(klass).get('__init__')
        if klass is Strategy:
            break
        if init is None:
            continue
        params = list(inspect.signature(init).parameters.values())[1:]
        inits.append(params)
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    found = {}
    for params in reversed(inits):
        for p in params:
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and \
                    p.name not in cls.hook_arguments:
                if p.default is p.empty:
                    raise TypeError(f'{cls.__name__}: option {p.name} needs a default')
                found[p.name] = p.default
    return found


class Strategy(abc.ABC):
    """Base of every strategy (see the module docstring): ``scope``, ``unit``, ``needs``,
    ``name`` (its registry name) and ``options`` (its constructor's keyword arguments)."""
    scope: str = None
    unit: str = None
    name: str = None  # set by STRATEGIES.register_module
    needs: frozenset = frozenset()
    hook_arguments: frozenset = frozenset()  # constructor arguments that are not options
    defaults = MappingProxyType({})  # derived from the constructors (signature_options)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for old in ('defaults', 'validate'):
            if old in vars(cls):
                raise TypeError(f'{cls.__name__}: `{old}` is not part of the strategy contract; '
                                'options are the keyword arguments of __init__ (see '
                                'mmseg_ext.active.strategies.contract)')
        unknown = sorted(set(cls.needs) - NEEDS)
        if unknown:
            raise TypeError(f'{cls.__name__}: unknown needs {unknown}; known: {sorted(NEEDS)}')
        cls.defaults = MappingProxyType(signature_options(cls))

    def __new__(cls, *args, **options):
        name = vars(cls).get('name') or cls.__name__
        if args:
            raise ValueError(f'{name}: options are keyword arguments, got {args!r}')
        unknown = sorted(set(options) - set(cls.defaults) - cls.hook_arguments)
        if unknown:
            raise ValueError(f'{name}: unknown option(s) {unknown}; known: {sorted(cls.defaults)}')
        self = super().__new__(cls)
        self.name = name
        self.options = {**cls.defaults, **{k: v for k, v in options.items()
                                           if k not in cls.hook_arguments}}
        return self

    def needs_at(self, round_index: int) -> frozenset:
        """What the hook hands in round ``round_index`` (1-based): ``needs`` by default."""
        return closed(self.needs)

    def bad(self, key: str, what: str):
        raise ValueError(f'{self.name}: option {key} must be {what}, got {self.options[key]!r}')

    def __repr__(self):
        return f'{type(self).__name__}({self.name!r}, {self.options})'
