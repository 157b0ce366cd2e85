"""The live console of a sweep: one line when a trial starts, finishes, fails or is retried, and
every so often a table of every trial (sweeps/console.py formats it; trial names are
sweeps/naming.py's).

The driver's own callbacks (this progress table and the trackers, sweeps/tracking.py) live in
one `SweepCallbacks`, which Tune pickles into the experiment state and brings back on restore;
it pickles as a reference to the running driver's (sweeps/driver_state.py), so a resumed sweep
prints and tracks as the current command says (`--quiet`, `--tracking`), not as the first run
did.
"""
import sys
import time

from ray.tune import Callback
from ray.tune.callback import CallbackList

from . import driver_state
from .console import _fmt_num, format_trials
from .naming import error_text, one_line, trial_name
from .trial_config import trial_spec


def _restore_current():
    return driver_state.sweep_callbacks or CallbackList([])


class SweepCallbacks(CallbackList):
    """The running driver's callbacks (progress, trackers); see the module docstring."""

    def __init__(self, callbacks):
        super().__init__(list(callbacks))
        driver_state.sweep_callbacks = self

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
        return f'{done}/{len(trials)} trials done\n' + format_trials(self.rows(trials))

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
        self._print(f'failed   {self._name(trial)} ({trial.trial_id}), retrying from its last '
                    f'checkpoint: {one_line(error_text(trial))}')

    def on_trial_error(self, iteration, trials, trial, **info):
        self._print(f'error    {self._name(trial)} ({trial.trial_id}): '
                    f'{one_line(error_text(trial))}')

    def on_step_end(self, iteration, trials, **info):
        if self.interval > 0 and time.time() - self._last_table >= self.interval and trials:
            self._last_table = time.time()
            self._print(self.table(trials))

    def on_experiment_end(self, trials, **info):
        pass  # the driver prints the final table from the results (sweeps/run.py report)
