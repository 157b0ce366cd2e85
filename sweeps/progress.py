"""What a sweep prints: trial names, the live progress table, the final table and the summary.

A trial is named `<variant>-s<seed>`, plus `key=value` for each sampled parameter
(`ripu_ra-s0-k=2`): in the console, in Tune's trial folders (`<name>_<trial_id>`, unique), in
TensorBoard's runs, in MLflow's run names and in the Parquet `trial_name` column.

The driver's own callbacks (this progress table and the trackers, sweeps/tracking.py) live in
one `SweepCallbacks`, which Tune pickles into the experiment state and brings back on restore;
it pickles as a reference to the running driver's `SweepCallbacks.current`, so a resumed sweep
prints and tracks as the current command says (`--quiet`, `--tracking`), not as the first run
did.
"""
import json
import math
import sys
import time

from ray.tune import Callback
from ray.tune.callback import CallbackList

from .trial_config import trial_spec

NAME_LIMIT = 100  # characters of a trial name (Tune's folder adds _<trial_id>)


def _short_value(value):
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f'{value:.3g}'
    if isinstance(value, (int, str)):
        return str(value)
    return json.dumps(value, separators=(',', ':'), sort_keys=True, default=str)


def trial_name(config):
    """`<variant>-s<seed>[-key=value...]` of a Tune trial config: the sampled parameters by the
    last part of their name, floats to 3 significant digits; no path separators or spaces."""
    variant, seed, knobs = trial_spec(config)
    parts = [str(variant), f's{seed}'] + [f'{str(k).rsplit(".", 1)[-1]}={_short_value(v)}'
                                          for k, v in knobs.items()]
    name = '-'.join(parts).replace('/', '_').replace(' ', '')
    return name if len(name) <= NAME_LIMIT else name[:NAME_LIMIT - 3] + '...'


def tune_trial_name(trial):
    """Tune's trial_name_creator."""
    return trial_name(trial.config)


def tune_trial_dirname(trial):
    """Tune's trial_dirname_creator: the name and the trial id (names may repeat in random and
    Optuna searches; folders must not)."""
    return f'{trial_name(trial.config)}_{trial.trial_id}'


def _fmt_elapsed(seconds):
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return '-'
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f'{h}:{m:02d}:{s:02d}' if h else f'{m}:{s:02d}'


def _fmt_num(value, digits=2, suffix=''):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '-'
    return f'{value:.{digits}f}{suffix}'


COLUMNS = ('trial', 'variant', 'seed', 'status', 'round', 'labelled', 'mIoU', 'elapsed')


def format_table(rows):
    """Rows {trial, variant, seed, status, round, labelled_fraction, miou, elapsed} as a plain
    aligned text table."""
    cells = [[str(r['trial']), str(r['variant']), str(r['seed']), str(r['status']),
              '-' if r.get('round') is None else str(r['round']),
              _fmt_num(None if r.get('labelled_fraction') is None
                       else 100 * r['labelled_fraction'], 2, '%'),
              _fmt_num(r.get('miou')), _fmt_elapsed(r.get('elapsed'))] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h)
              for i, h in enumerate(COLUMNS)]
    right = {2, 4, 5, 6, 7}

    def line(values):
        return '  '.join(v.rjust(w) if i in right else v.ljust(w)
                         for i, (v, w) in enumerate(zip(values, widths))).rstrip()
    return '\n'.join([line(COLUMNS), line(['-' * w for w in widths])] + [line(c) for c in cells])


def final_rows(table, variants=None):
    """One row per trial of a results table (pyarrow, as read_results gives it): its last
    evaluation (the final one where there is one), its status and its error; in the order of
    `variants` (the space's), then by name. Also [(trial name, one-line error)]."""
    df = table.to_pandas()
    out, errors = [], []
    if df.empty:
        return out, errors
    if 'trial_name' not in df.columns:
        df['trial_name'] = None
    for trial_id, rows in df.groupby('trial_id', sort=False):
        ok = rows[rows.status != 'error']
        last = (ok if len(ok) else rows).sort_values(['is_final', 'round']).iloc[-1]
        status = 'error' if (rows.status == 'error').any() and not ok.is_final.any() else \
            ('done' if last.status == 'ok' and last.is_final else str(last.status))
        name = last.trial_name if isinstance(last.trial_name, str) else \
            f'{last.variant}-s{last.seed}'
        out.append(dict(trial=name, variant=last.variant, seed=int(last.seed), status=status,
                        round=None if not len(ok) else int(last['round']),
                        labelled_fraction=None if not len(ok) else last.labelled_fraction,
                        miou=None if not len(ok) else last.miou,
                        elapsed=None if not len(ok) else last.wall_seconds))
        if status == 'error':
            err = rows[rows.status == 'error'].iloc[-1].error
            errors.append((name, one_line(err)))
    order = {}
    for n in list(variants or []) + list(df.variant.unique()):
        order.setdefault(n, len(order))
    out.sort(key=lambda r: (order.get(r['variant'], 0), r['trial']))
    return out, errors


def one_line(text, limit=300):
    """The last non-empty line of an error message (the exception and its reason), shortened."""
    lines = [ln.strip() for ln in str(text or '').strip().splitlines() if ln.strip()]
    line = lines[-1] if lines else 'trial failed'
    return line if len(line) <= limit else line[:limit - 3] + '...'


def best_summary(table, metric='miou', mode='max', param_columns=None):
    """'best: <variant> [k=v] (mean mIoU 33.95 over 3 seeds)' from the final `ok` rows: the best
    mean over seeds of each variant (and parameter values), among the variants that do not train
    on every target label (an oracle / fully supervised row is an upper bound, named apart)."""
    df = table.to_pandas()
    if df.empty or metric not in df.columns:
        return None
    df = df[df.is_final & (df.status == 'ok') & df[metric].notna()]
    if df.empty:
        return 'best: none (no trial finished)'
    # parameters sampled within a variant (a variant's fixed knobs are in its name already)
    params = [c for c in (param_columns if param_columns is not None else df.columns)
              if c.startswith('param_') and c in df.columns
              and df.groupby('variant')[c].nunique(dropna=True).max() > 1]
    keys = ['variant'] + params
    groups = []
    for key, rows in df.groupby(keys, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        label = ' '.join([str(key[0])] + [f'{p[len("param_"):]}={_short_value(v)}'
                                          for p, v in zip(params, key[1:])])
        full = bool((rows.labelled_fraction >= 1.0).all())
        groups.append((label, float(rows[metric].mean()), int(rows.seed.nunique()), full))
    candidates = [g for g in groups if not g[3]] or groups
    pick = max if mode == 'max' else min
    label, value, seeds, _ = pick(candidates, key=lambda g: g[1])
    name = {'miou': 'mIoU', 'miou13': 'mIoU-13'}.get(metric, metric)
    text = (f'best: {label} (mean {name} {value:.2f} over {seeds} seed'
            f'{"s" if seeds != 1 else ""})')
    bounds = [g for g in groups if g[3] and g not in candidates]
    if bounds:
        text += '; upper bound ' + ', '.join(f'{g[0]} {g[1]:.2f}' for g in bounds) + \
            ' (trained on every target label)'
    return text


def _restore_current():
    return SweepCallbacks.current or CallbackList([])


class SweepCallbacks(CallbackList):
    """The running driver's callbacks (progress, trackers); see the module docstring."""
    current = None

    def __init__(self, callbacks):
        super().__init__(list(callbacks))
        SweepCallbacks.current = self

    def __reduce__(self):
        return _restore_current, ()

    def get_state(self):  # nothing to keep: the next driver brings its own
        return None

    def set_state(self, state):
        pass


class ConsoleProgress(Callback):
    """The live console: one line when a trial starts, finishes, fails or is retried (with the
    trial's name and the one-line reason), and every `interval` seconds (and at the end) a table
    of every trial: variant, seed, status, round, labelled %, mIoU, elapsed time. `quiet`
    prints nothing (the driver prints the final table)."""

    def __init__(self, quiet=False, interval=60.0, stream=None):
        self.quiet, self.interval = quiet, float(interval)
        self.stream = stream
        self._last_table = time.time()
        self._started = {}

    def setup(self, **info):
        self._last_table = time.time()

    def _print(self, text):
        if not self.quiet:
            print(text, file=self.stream or sys.stdout, flush=True)

    @staticmethod
    def _name(trial):
        return trial_name(trial.config)

    def rows(self, trials):
        now = time.time()
        out = []
        for trial in trials:
            variant, seed, _ = trial_spec(trial.config)
            result = trial.last_result or {}
            elapsed = result.get('wall_seconds')
            if trial.status == 'RUNNING' and trial.trial_id in self._started:
                since = self._started[trial.trial_id]
                elapsed = (elapsed or 0.0) + now - max(since, result.get('timestamp', since))
            out.append(dict(trial=self._name(trial), variant=variant, seed=seed,
                            status=trial.status.lower(), round=result.get('round'),
                            labelled_fraction=result.get('labelled_fraction'),
                            miou=result.get('mIoU'), elapsed=elapsed))
        return out

    def table(self, trials):
        done = sum(t.status in ('TERMINATED', 'ERROR') for t in trials)
        return f'{done}/{len(trials)} trials done\n' + format_table(self.rows(trials))

    def on_trial_start(self, iteration, trials, trial, **info):
        self._started[trial.trial_id] = time.time()
        self._print(f'started  {self._name(trial)} ({trial.trial_id})')

    def on_trial_complete(self, iteration, trials, trial, **info):
        result = trial.last_result or {}
        how = 'finished' if result.get('is_final') else 'stopped '
        self._print(f'{how} {self._name(trial)}: round {result.get("round", "-")}, labelled '
                    f'{_fmt_num(100 * result.get("labelled_fraction", 0.0), 2, "%")}, mIoU '
                    f'{_fmt_num(result.get("mIoU"))}')

    def on_trial_recover(self, iteration, trials, trial, **info):
        from .parquet_callback import _error_text
        self._print(f'failed   {self._name(trial)} ({trial.trial_id}), retrying from its last '
                    f'checkpoint: {one_line(_error_text(trial))}')

    def on_trial_error(self, iteration, trials, trial, **info):
        from .parquet_callback import _error_text
        self._print(f'error    {self._name(trial)} ({trial.trial_id}): '
                    f'{one_line(_error_text(trial))}')

    def on_step_end(self, iteration, trials, **info):
        if self.interval > 0 and time.time() - self._last_table >= self.interval and trials:
            self._last_table = time.time()
            self._print(self.table(trials))

    def on_experiment_end(self, trials, **info):
        pass  # the driver prints the final table from the results (sweeps/run.py report)
