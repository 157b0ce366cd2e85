"""Trial names and trial errors in words.

A trial is named `<variant>-s<seed>`, plus `key=value` for each sampled parameter
(`ripu_ra-s0-k=2`): in the console, in Tune's trial folders (`<name>_<trial_id>`, unique), in
TensorBoard's runs, in MLflow's run names and in the Parquet `trial_name` column. A failed
trial's reason is the last line of its error file (`error_text`), shortened by `one_line`."""
import json
import os

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


def one_line(text, limit=300):
    """The last non-empty line of an error message (the exception and its reason), shortened."""
    lines = [ln.strip() for ln in str(text or '').strip().splitlines() if ln.strip()]
    line = lines[-1] if lines else 'trial failed'
    return line if len(line) <= limit else line[:limit - 3] + '...'


def error_text(trial):
    path = getattr(trial, 'error_file', None) or ''
    if path and os.path.isfile(path):
        lines = [ln for ln in open(path).read().strip().splitlines() if ln.strip()]
        if lines:
            return lines[-1][:2000]
    return str(getattr(trial, 'error_msg', '') or 'trial failed')[:2000]
