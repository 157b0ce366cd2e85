"""What a sweep space declares, and how its trials are enumerated.

A space file (sweeps/spaces/<name>.py, or any path given to --space) defines `SPACE = Space(...)`:
named variants (a method config plus fixed knob values), parameter axes (grid values or ranges),
seeds, the metric and mode, and the default search and scheduler.

Knobs are the named parameters a space may set: the table in sweeps/knobs.py (each row: name,
doc, the config path it sets, what it applies to), plus `strategy.<option>` for any option of a
strategy. sweeps/trial_config.py applies them; `--set key=value` reaches any config key.
"""
import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from .knobs import (KNOBS, is_knob, range_error,  # noqa: F401  (KNOBS re-exported)
                    unknown_knobs_message)

SEARCHES = ('grid', 'random', 'optuna')
SCHEDULERS = ('fifo', 'asha', 'pbt')
BENCHMARKS = ('synthshift', 'gta5_to_cityscapes', 'synthia_to_cityscapes')
# what a sweep folder keeps of its space (run.py writes it when the sweep starts): the report
# reads this data and never runs the space file
SPACE_RECORD = 'space.json'
RECORD_FIELDS = ('name', 'description', 'metric', 'mode', 'objectives', 'table', 'table_param',
                 'table_rounds', 'configs', 'search', 'scheduler', 'seeds', 'num_samples')


@dataclass(frozen=True)
class Axis:
    """A parameter axis: `values` (grid / categorical) or a range `low`..`high` (random, optuna)."""
    values: Optional[Sequence] = None
    low: Optional[float] = None
    high: Optional[float] = None
    log: bool = False
    integer: bool = False

    def __post_init__(self):
        if (self.values is None) == (self.low is None or self.high is None):
            raise ValueError('Axis needs values=[...] or low= and high=')

    def grid(self, name: str) -> list:
        if self.values is None:
            raise ValueError(f'axis {name!r} is a range; grid search needs values=[...] '
                             '(use --search random or optuna)')
        return list(self.values)


@dataclass(frozen=True)
class Variant:
    """A row of a paper table: a method config and fixed knobs.

    `config`: 'ripu' is the method's anchor configs/ripu/<benchmark>.py, 'ripu/source_free_ra'
    one of its other protocols, configs/ripu/<benchmark>/source_free_ra.py; None: the space's
    method (`Space.configs`). `benchmarks`: knobs for one benchmark, over `knobs` (values that
    scale with the images, such as a region size)."""
    config: Optional[str] = None
    knobs: dict = field(default_factory=dict)
    benchmarks: dict = field(default_factory=dict)

    def knobs_for(self, benchmark: str) -> Dict[str, Any]:
        """The variant's knobs on `benchmark`."""
        return {**self.knobs, **self.benchmarks.get(benchmark, {})}


@dataclass(frozen=True)
class Space:
    name: str
    description: str
    variants: dict
    axes: dict = field(default_factory=dict)
    seeds: int = 3
    metric: str = 'miou'
    mode: str = 'max'
    search: str = 'grid'
    scheduler: str = 'fifo'
    num_samples: int = 8
    objectives: Optional[Sequence] = None  # multi-objective optuna: [(metric, mode), ...]
    table: str = 'ablation'                # the table tables.py builds by default
    table_param: Optional[str] = None
    configs: str = 'ripu'                  # the method of variants without a config
    table_rounds: Optional[Sequence] = None  # rounds of table 'rounds' (None: all)
    imports: Sequence[str] = ()            # modules of the space's own strategies (custom_imports)

    def __post_init__(self):
        self._check_types()
        names = [k for v in self.variants.values()
                 for k in [*v.knobs, *(k for b in v.benchmarks.values() for k in b)]]
        unknown = [k for k in [*names, *self.axes] if not is_knob(k)]
        if unknown:
            raise ValueError(f'space {self.name!r}: {unknown_knobs_message(unknown)}')
        benchmarks = {b for v in self.variants.values() for b in v.benchmarks}
        if benchmarks - set(BENCHMARKS):
            raise ValueError(f'space {self.name!r}: unknown benchmarks '
                             f'{sorted(benchmarks - set(BENCHMARKS))} in variant knobs; known: '
                             f'{", ".join(BENCHMARKS)}')
        if isinstance(self.imports, str) or not all(isinstance(m, str) for m in self.imports):
            raise ValueError(f'space {self.name!r}: imports must be a tuple of module names, got '
                             f'{self.imports!r}')
        if self.search not in SEARCHES or self.scheduler not in SCHEDULERS:
            raise ValueError(f'space {self.name!r}: search {self.search!r} / scheduler '
                             f'{self.scheduler!r} not in {SEARCHES} / {SCHEDULERS}')

    def _check_types(self):
        """Variants are Variant(...) and axes Axis(...) (a plain list is an easy slip); every
        knob value and axis value or bound in the knob's range (sweeps.knobs.Range)."""
        for kind, items, cls in (('variant', self.variants, Variant), ('axis', self.axes, Axis)):
            if not isinstance(items, dict):
                raise ValueError(f'space {self.name!r}: {kind} table must be a dict of '
                                 f'{cls.__name__}(...), got {type(items).__name__}')
            for key, item in items.items():
                if not isinstance(item, cls):
                    example = ('Axis(values=[...]) or Axis(low=..., high=...)' if cls is Axis
                               else "Variant('<config>', dict(<knobs>))")
                    raise ValueError(f'space {self.name!r}: {kind} {key!r} is a '
                                     f'{type(item).__name__} ({item!r:.60}); expected {example}')
        for vname, variant in self.variants.items():
            for where, knobs in (('', variant.knobs), *((f' on {b}', k) for b, k in
                                                        variant.benchmarks.items())):
                for key, value in knobs.items():
                    wrong = range_error(key, value)
                    if wrong:
                        raise ValueError(f'space {self.name!r}: variant {vname!r}{where}: knob '
                                         f'{key}={value!r}: {wrong}')
        for key, axis in self.axes.items():
            values = list(axis.values) if axis.values is not None else [axis.low, axis.high]
            for value in values:
                wrong = range_error(key, value)
                if wrong:
                    raise ValueError(f'space {self.name!r}: axis {key!r} value {value!r}: {wrong}')

    def record(self) -> Dict[str, Any]:
        """What a sweep folder keeps of this space (`SPACE_RECORD`): plain JSON data, the
        fields `RECORD_FIELDS`, the variant and axis names."""
        import json
        data = {k: getattr(self, k) for k in RECORD_FIELDS}
        data.update(variants=list(self.variants), axes=list(self.axes))
        return json.loads(json.dumps(data, default=str))

    def variant_config(self, variant: str) -> str:
        """The config a variant names ('ripu', 'ripu/source_free_ra'; see Variant)."""
        return self.variants[variant].config or self.configs

    def grid_trials(self, seeds: int) -> List[dict]:
        """Every (variant, axis values, seed): the trials of a grid search, in table order."""
        names = list(self.axes)
        values = [self.axes[n].grid(n) for n in names]
        trials = []
        for variant in self.variants:
            for combo in itertools.product(*values) if names else [()]:
                for seed in range(seeds):
                    trials.append(dict(variant=variant, seed=seed, params=dict(zip(names, combo))))
        return trials


def sample_axis(axis: Axis, rng: Any) -> Any:
    """One random value of an axis (numpy Generator)."""
    if axis.values is not None:
        return axis.values[int(rng.integers(len(axis.values)))]
    if axis.log:
        value = math.exp(rng.uniform(math.log(axis.low), math.log(axis.high)))
    else:
        value = rng.uniform(axis.low, axis.high)
    return int(round(value)) if axis.integer else float(value)
