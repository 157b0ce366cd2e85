"""Where a sweep's trials are tracked: TensorBoard (always), MLflow (`--tracking mlflow`) and W&B
(`--tracking wandb`, sweeps/tracking_wandb.py).

TensorBoard: every trial's mmengine visualizer gets a TensorboardVisBackend writing to
`<sweep>/tensorboard/<trial name>_<trial id>/`, so `tensorboard --logdir <storage>/<name>` shows
every trial as one run. mmengine's LoggerHook logs the training losses (by the names mmseg logs
them: `loss`, `decode.loss_ce`, ...), `lr`, and every evaluation's metrics against the
iteration; the trial adds (log_evaluation, TrialTensorboardHook in sweeps/tensorboard_hook.py):
- `by_round/<metric>`: mIoU, mIoU13, every `IoU.<class>` and `labelled_fraction`, step = round;
- `by_labelled/<metric>`: the same, step = labelled fraction in basis points (220 = 2.20 %);
- `selection/seconds`: the seconds of each selection round (the hooks' `active/seconds`),
  step = the round whose labels it bought (1 = the first selection, as in `by_round`); ADA-MCU's `adamcu/select_seconds`, step = the iteration it bought at.
A trial resumed from its own checkpoint first drops from its TensorBoard files what the killed
attempt logged after that checkpoint was written (a trial restarted from scratch: all it logged;
`drop_events_after`), since the resumed attempt logs those steps again: every step of every tag
appears once.

MLflow: Ray Tune's MLflowLoggerCallback (driver side), one run per trial named after it, in one
experiment named after the sweep; parameters: variant, seed, the trial's knobs; metrics: every
numeric value of each report, step = round. A resumed trial continues its own run.
"""
import math
import os
import os.path as osp
import time
from urllib.parse import urlparse

from .common import SweepError, mask_secrets

TRACKERS = ('tensorboard', 'mlflow', 'wandb')
TENSORBOARD_DIR = 'tensorboard'
CHECK_TIMEOUT_S = 5
MLFLOW_EXTRA = "pip install -e '.[mlflow]'"


# ---- the driver's checks ----------------------------------------------------------------------

def parse_tracking(tracking, uri):
    """`--tracking` (comma-separated names) and `--tracking-uri` -> the set of trackers; one
    SweepError line for an unknown name, a URI without mlflow, mlflow without a URI or not
    installed, or an MLflow server that does not answer (checked here, before anything runs)."""
    names = [n.strip().lower() for n in (tracking or '').split(',') if n.strip()]
    unknown = [n for n in names if n not in TRACKERS]
    if unknown:
        raise SweepError(f'--tracking {unknown[0]!r}: unknown tracking backend; known: '
                         f'{", ".join(TRACKERS)} (TensorBoard files are always written)')
    if uri and 'mlflow' not in names:
        raise SweepError(f'--tracking-uri {uri}: needs --tracking mlflow')
    if 'mlflow' in names:
        uri = uri or os.environ.get('MLFLOW_TRACKING_URI')
        if not uri:
            raise SweepError('--tracking mlflow needs --tracking-uri URI (an MLflow server, '
                             'e.g. http://127.0.0.1:5000) or MLFLOW_TRACKING_URI')
        check_mlflow_uri(uri)
    return set(names) | {'tensorboard'}, uri


def check_mlflow_uri(uri, timeout=CHECK_TIMEOUT_S):
    """mlflow is importable and the tracking server at `uri` answers within `timeout` seconds
    (one request, no retries). A local store (a path, file:, sqlite:) is not opened (that would
    create it): its folder must exist."""
    try:
        import mlflow  # noqa: F401
    except ImportError:
        raise SweepError(f'--tracking mlflow: mlflow is not installed ({MLFLOW_EXTRA})') from None
    scheme = urlparse(uri).scheme
    if scheme in ('', 'file', 'sqlite'):
        path = uri.split('://', 1)[-1] if scheme else uri
        if scheme == 'sqlite':
            path = path[1:] if path.startswith('/') else path  # sqlite:////abs -> /abs
        folder = osp.dirname(osp.abspath(path)) if scheme == 'sqlite' else \
            osp.dirname(osp.abspath(path.rstrip('/')))
        if not osp.isdir(folder):
            raise SweepError(f'--tracking-uri {uri}: folder {folder} does not exist')
        return
    from mlflow.tracking import MlflowClient
    saved = {k: os.environ.get(k) for k in ('MLFLOW_HTTP_REQUEST_TIMEOUT',
                                            'MLFLOW_HTTP_REQUEST_MAX_RETRIES')}
    os.environ.update(MLFLOW_HTTP_REQUEST_TIMEOUT=str(int(timeout)),
                      MLFLOW_HTTP_REQUEST_MAX_RETRIES='0')
    try:
        MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    except Exception as err:  # noqa: BLE001  (connection refused, timeout, HTTP errors)
        text = ' '.join(str(err).split())
        reason = 'connection refused' if 'refused' in text.lower() else \
            f'no answer within {timeout} s' if 'timed out' in text.lower() or \
            'timeout' in text.lower() else text[:200]
        raise SweepError(f'--tracking-uri {uri}: cannot reach the MLflow tracking server '
                         f'({reason})') from None
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# ---- TensorBoard, in the trial ----------------------------------------------------------------

def tensorboard_dir(sweep_dir, name, trial_id):
    return osp.join(sweep_dir, TENSORBOARD_DIR, f'{name}_{trial_id}')


def configure_tensorboard(cfg, log_dir, trial_id):
    """The trial's config writes TensorBoard files to `log_dir`: a TensorboardVisBackend on its
    visualizer (named after the trial: mmengine keeps one visualizer per name in a process, and
    a reused Ray worker runs several trials), the LoggerHook logging losses and lr every few
    iterations, and TrialTensorboardHook for the selection times."""
    vis = dict(cfg.get('visualizer') or dict(type='Visualizer'))
    backends = [b for b in vis.get('vis_backends') or [] if b.get('type') !=
                'TensorboardVisBackend']
    vis['vis_backends'] = backends + [dict(type='TensorboardVisBackend', save_dir=log_dir)]
    vis['name'] = f'visualizer_{trial_id}'
    cfg.visualizer = vis
    cfg.default_hooks.logger.interval = max(1, min(10, int(cfg.train_cfg.max_iters) // 20))
    cfg.default_hooks.logger.log_metric_by_epoch = False
    from . import tensorboard_hook  # noqa: F401 (registers TrialTensorboardHook)
    cfg.custom_hooks = [*(cfg.get('custom_hooks') or []), dict(type='TrialTensorboardHook')]
    return cfg


def drop_events_after(log_dir, saved_at):
    """Rewrite the TensorBoard event files in `log_dir` without the events written after
    `saved_at` (time.time() when the checkpoint a trial resumes from was written, in the process
    that logged them): what a killed attempt logged after its last checkpoint. By write time, not
    by step, since the tags count steps differently (iterations, rounds, labelled fraction).
    Each file is replaced atomically; call it before the resumed attempt's writer opens.
    Returns how many events were dropped."""
    if not osp.isdir(log_dir):
        return 0
    from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader
    from tensorboard.summary.writer.record_writer import RecordWriter

    from adasweep_base.fileio import atomic_write
    dropped = 0
    for name in sorted(os.listdir(log_dir)):
        path = osp.join(log_dir, name)
        if 'tfevents' not in name or not osp.isfile(path):
            continue
        events = list(LegacyEventFileLoader(path).Load())  # a record cut short ends the file
        kept = [e for e in events if e.wall_time <= saved_at or
                e.WhichOneof('what') == 'file_version']  # the file's header
        if len(kept) == len(events):
            continue
        dropped += len(events) - len(kept)

        def write(tmp, kept=kept):
            with open(tmp, 'wb') as f:
                writer = RecordWriter(f)
                for event in kept:
                    writer.write(event.SerializeToString())
        atomic_write(path, write)
    return dropped


def _metrics_of(result):
    keys = [k for k in result if k in ('mIoU', 'mIoU13') or k.startswith('IoU.')]
    out = {k: float(result[k]) for k in keys if isinstance(result[k], (int, float))}
    out['labelled_fraction'] = float(result.get('labelled_fraction', 0.0))
    return out


def log_evaluation(runner, result):
    """One evaluation (TuneReportHook's result) against its round and its labelled fraction."""
    visualizer = getattr(runner, 'visualizer', None)
    if visualizer is None:
        return
    metrics = {k: v for k, v in _metrics_of(result).items() if not math.isnan(v)}
    rnd = int(result.get('round', 0))
    bp = int(round(10000 * float(result.get('labelled_fraction', 0.0))))
    visualizer.add_scalars({f'by_round/{k}': v for k, v in metrics.items()}, step=rnd)
    visualizer.add_scalars({f'by_labelled/{k}': v for k, v in metrics.items()}, step=bp)


# ---- MLflow, in the driver --------------------------------------------------------------------

RAY_KEYS = ('timestamp', 'training_iteration', 'time_this_iter_s', 'time_total_s', 'pid',
            'time_since_restore', 'iterations_since_restore', 'done', 'should_checkpoint')


def trial_params(config, variant_knobs):
    """What a tracker records as a trial's parameters: its variant, seed, name, and the
    variant's and the sampled knobs (`variant_knobs`: variant -> its knobs)."""
    from .naming import trial_name
    from .trial_config import trial_spec
    variant, seed, knobs = trial_spec(config)
    return dict(variant=variant, seed=seed, trial_name=trial_name(config),
                **{**variant_knobs.get(variant, {}), **knobs})


def mlflow_callback(uri, sweep, space, benchmark, git_rev, variant_knobs):
    """Ray Tune's MLflowLoggerCallback for this sweep (see MLflowTrialLogger)."""
    from ray.air.integrations.mlflow import MLflowLoggerCallback
    from .naming import trial_name

    class MLflowTrialLogger(MLflowLoggerCallback):
        """Runs named after the trial, with the trial's own parameters (variant, seed, knobs)
        rather than Tune's nested config, metrics at step = round in one request per report,
        and a resumed trial's run continued rather than a second one started."""

        def log_trial_start(self, trial):
            from mlflow.entities import Param, RunStatus
            client = self.mlflow_util._get_client()
            if trial not in self._trial_runs:
                found = client.search_runs(
                    [self.mlflow_util.experiment_id],
                    filter_string=f"tags.`adasweep.trial_id` = '{trial.trial_id}'",
                    max_results=1)
                if found:
                    run_id = found[0].info.run_id
                    client.update_run(run_id, status=RunStatus.to_string(RunStatus.RUNNING))
                else:
                    name = trial_name(trial.config)
                    run_id = self.mlflow_util.start_run(run_name=name, tags=dict(
                        self.tags, trial_name=name, **{'adasweep.trial_id': trial.trial_id})
                    ).info.run_id
                self._trial_runs[trial] = run_id
                params = trial_params(trial.config, variant_knobs)
                client.log_batch(run_id, params=[Param(str(k), mask_secrets(str(v))[:6000])
                                                 for k, v in params.items()])

        def log_trial_result(self, iteration, trial, result):
            from mlflow.entities import Metric
            run_id = self._trial_runs[trial]
            step, now = int(result.get('round', iteration)), int(time.time() * 1000)
            metrics = [Metric(k, float(v), now, step) for k, v in result.items()
                       if k not in RAY_KEYS and isinstance(v, (int, float))
                       and not isinstance(v, bool) and math.isfinite(float(v))]
            self.mlflow_util._get_client().log_batch(run_id, metrics=metrics)

    return MLflowTrialLogger(uri, experiment_name=sweep,
                             tags={'adasweep.sweep': sweep, 'adasweep.space': space,
                                   'adasweep.benchmark': benchmark, 'git_rev': git_rev})
