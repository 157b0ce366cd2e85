"""Driver-side Ray Tune callback: every reported evaluation becomes a Parquet row at once.

Each trial's rows are kept in `<sweep>/trials/<trial_id>.parquet`, rewritten atomically with all
rows so far after every report (read back from disk, so a restarted driver continues the file).
One row per (round, is_final): a later report of the same evaluation (after a retry) replaces
it. Error rows never replace a result: a failed attempt adds an error row after the last
evaluation the trial reported, and the trial's next successful report removes its error rows.
A reported result that fails validation becomes an error row with the reason; the sweep goes on.
Trials stopped by a scheduler get status 'stopped'.

Tune pickles its callbacks into the experiment state and brings them back on restore; this one
pickles as a reference to the driver's current callback (sweeps/driver_state.py), so a
resumed sweep writes with the current driver's settings (storage folder, git revision), even
when the sweep folder was moved.
"""
import json

from ray.tune import Callback

from . import driver_state
from .naming import error_text, trial_name
from .results import TrialResultWriter, make_row, rows_to_table
from .trial_config import trial_spec

TRIAL_CONFIG = 'trial_config.json'  # written by the trainable into the trial's work dir
WHERE = ('node_id', 'hostname', 'device')


def _restore_current():
    return driver_state.parquet_callback or _Inert()


class _Inert(Callback):
    """What a restored callback becomes outside a sweep driver (offline analysis)."""


class ParquetResultsCallback(Callback):
    def __init__(self, sweep_dir, sweep, space, benchmark, git_rev, variant_knobs=None):
        self.sweep_dir, self.sweep, self.space = sweep_dir, sweep, space
        self.benchmark, self.git_rev = benchmark, git_rev
        self.variant_knobs = variant_knobs or {}
        driver_state.parquet_callback = self

    def __reduce__(self):
        return _restore_current, ()

    @property
    def writer(self):
        if getattr(self, '_writer', None) is None or self._writer_of != self.sweep_dir:
            self._writer, self._writer_of = TrialResultWriter(self.sweep_dir), self.sweep_dir
        return self._writer

    def _rows(self, trial_id):
        return self.writer.read_trial(trial_id)

    def _spec(self, trial):
        variant, seed, knobs = trial_spec(trial.config)
        return variant, seed, {**self.variant_knobs.get(variant, {}), **knobs}

    def _config(self, trial):
        store, rel = self.writer.store, f'work/{trial.trial_id}/{TRIAL_CONFIG}'
        return json.loads(store.read_text(rel)) if store.is_file(rel) else None

    def _base(self, trial):
        variant, seed, params = self._spec(trial)
        return dict(sweep=self.sweep, space=self.space, benchmark=self.benchmark,
                    variant=variant, trial_id=trial.trial_id, trial_name=trial_name(trial.config),
                    seed=seed, params=params, git_rev=self.git_rev)

    def _write(self, trial, rows):
        table = rows_to_table(rows)
        keep = {}
        for row in table.to_pylist():  # last report of an evaluation wins, an error never
            key = (row['round'], row['is_final'])  # replaces a result
            if row['status'] == 'error' and key in keep and keep[key]['status'] != 'error':
                continue
            keep[key] = row
        self.writer.write_trial(trial.trial_id, list(keep.values()))

    def on_trial_result(self, iteration, trials, trial, result, **info):
        metrics = {k: v for k, v in result.items() if k == 'mIoU' or k == 'mIoU13'
                   or k.startswith('IoU.')}
        base = self._base(trial)
        where = {k: result.get(k) for k in WHERE if result.get(k) is not None}
        try:
            row = make_row(
                **base, round=int(result.get('round', 0)),
                iteration=int(result.get('iteration', 0)),
                labelled_fraction=float(result.get('labelled_fraction', 0.0)),
                pixels_bought=int(result.get('pixels_bought', 0)),
                units_bought=int(result.get('units_bought', 0)),
                pseudo_pixels=result.get('pseudo_pixels'), metrics=metrics,
                is_final=bool(result.get('is_final', False)), status='ok',
                config=self._config(trial), wall_seconds=float(result.get('wall_seconds', 0.0)),
                train_seconds=result.get('train_seconds'), **where)
        except ValueError as err:  # a bad result is recorded, the sweep goes on
            row = make_row(**base, round=max(0, int(result.get('round', 0) or 0)),
                           iteration=max(0, int(result.get('iteration', 0) or 0)),
                           is_final=bool(result.get('is_final', False)), status='error',
                           error=f'invalid result: {err}', **where)
        rows = [r for r in self._rows(trial.trial_id) if r['status'] != 'error'] \
            if row['status'] == 'ok' else self._rows(trial.trial_id)
        self._write(trial, rows + [row])

    def on_trial_complete(self, iteration, trials, trial, **info):
        rows = self._rows(trial.trial_id)
        if rows and not any(r['is_final'] and r['status'] == 'ok' for r in rows):
            for r in rows:
                if r['status'] == 'ok':
                    r['status'] = 'stopped'  # a scheduler ended it before its final evaluation
            self._write(trial, rows)

    def on_trial_error(self, iteration, trials, trial, **info):
        rows = self._rows(trial.trial_id)
        error = error_text(trial)
        for r in rows:  # a final evaluation of an attempt that then failed is no result
            if r['is_final'] and r['status'] == 'ok':
                r['status'] = 'error'
                r['error'] = f'the trial failed after this evaluation: {error}'
        done = [r['round'] for r in rows if r['status'] != 'error' and not r['is_final']]
        row = make_row(**self._base(trial), round=max(done) + 1 if done else 0, iteration=0,
                       status='error', error=error, wall_seconds=0.0)
        self._write(trial, rows + [row])

    def on_experiment_end(self, trials, **info):
        try:
            self.writer.compact()
        except ValueError:  # an unreadable results.parquet: kept, the driver says so (run.py)
            pass


