"""Driver-side Ray Tune callback: every reported evaluation becomes a Parquet row at once.

Each trial's rows are kept in `<sweep>/trials/<trial_id>.parquet`, rewritten atomically with all
rows so far after every report (read back from disk, so a restarted driver continues the file).
Rows are deduplicated on (trial_id, round, is_final), so a trial that repeats an evaluation after
a retry leaves one row. Trials stopped by a scheduler get status 'stopped', failed attempts a row
with status 'error' and the error text.
"""
import json
import os
import time

from ray.tune import Callback

from .results import TrialResultWriter, make_row, read_results, rows_to_table
from .trial_config import trial_spec


def _error_text(trial):
    path = getattr(trial, 'error_file', None) or ''
    if path and os.path.isfile(path):
        lines = [ln for ln in open(path).read().strip().splitlines() if ln.strip()]
        if lines:
            return lines[-1][:2000]
    return str(getattr(trial, 'error_msg', '') or 'trial failed')[:2000]


class ParquetResultsCallback(Callback):

    def __init__(self, sweep_dir, sweep, space, benchmark, git_rev, config_json=None,
                 variant_knobs=None):
        self.sweep_dir, self.sweep, self.space = sweep_dir, sweep, space
        self.benchmark, self.git_rev = benchmark, git_rev
        self.config_json = config_json or {}
        self.variant_knobs = variant_knobs or {}

    @property
    def writer(self):
        return TrialResultWriter(self.sweep_dir)

    def _rows(self, trial_id):
        path = self.writer.trial_path(trial_id)
        if not os.path.isfile(path):
            return []
        return read_results(str(path)).to_pylist()

    def _spec(self, trial):
        variant, seed, knobs = trial_spec(trial.config)
        return variant, seed, {**self.variant_knobs.get(variant, {}), **knobs}

    def _write(self, trial, rows):
        table = rows_to_table(rows)
        keep = {}
        for row in table.to_pylist():  # last report of an evaluation wins
            keep[(row['round'], row['is_final'])] = row
        self.writer.write_trial(trial.trial_id, list(keep.values()))

    def on_trial_result(self, iteration, trials, trial, result, **info):
        variant, seed, params = self._spec(trial)
        metrics = {k: v for k, v in result.items() if k == 'mIoU' or k == 'mIoU13'
                   or k.startswith('IoU.')}
        row = make_row(
            sweep=self.sweep, space=self.space, benchmark=self.benchmark, variant=variant,
            trial_id=trial.trial_id, seed=seed, round=int(result.get('round', 0)),
            iteration=int(result.get('iteration', 0)),
            labelled_fraction=float(result.get('labelled_fraction', 0.0)),
            pixels_bought=int(result.get('pixels_bought', 0)),
            units_bought=int(result.get('units_bought', 0)), metrics=metrics,
            is_final=bool(result.get('is_final', False)), status='ok', params=params,
            config=self.config_json.get(variant), wall_seconds=float(result.get(
                'wall_seconds', 0.0)), train_seconds=result.get('train_seconds'),
            git_rev=self.git_rev)
        self._write(trial, self._rows(trial.trial_id) + [row])

    def on_trial_complete(self, iteration, trials, trial, **info):
        rows = self._rows(trial.trial_id)
        if rows and not any(r['is_final'] for r in rows):
            for r in rows:
                r['status'] = 'stopped'  # a scheduler ended it before its final evaluation
            self._write(trial, rows)

    def on_trial_error(self, iteration, trials, trial, **info):
        variant, seed, params = self._spec(trial)
        rows = self._rows(trial.trial_id)
        done = [r for r in rows if not r['is_final']]
        row = make_row(
            sweep=self.sweep, space=self.space, benchmark=self.benchmark, variant=variant,
            trial_id=trial.trial_id, seed=seed, round=len(done), iteration=0, status='error',
            error=_error_text(trial), params=params, git_rev=self.git_rev,
            wall_seconds=0.0)
        self._write(trial, rows + [row])

    def on_experiment_end(self, trials, **info):
        self.writer.compact()


def _write_json(path, obj, **kw):
    tmp = f'{path}.{os.getpid()}.{time.time_ns()}.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f, indent=1, default=str, **kw)
    os.replace(tmp, path)


def write_sweep_snapshot(sweep_dir, info, configs):
    """`sweep.json` (space, benchmark, variants in table order, ...) and `configs.json` (the full
    config of every variant), for results' config_json, tables.py and humans."""
    os.makedirs(sweep_dir, exist_ok=True)
    _write_json(os.path.join(sweep_dir, 'sweep.json'), info)
    _write_json(os.path.join(sweep_dir, 'configs.json'), configs, sort_keys=True)
