"""The Tune run of a plan: check the folder's plan, connect Ray, check the nodes, train the
warm-ups, then a new Tuner (or a restored one) with the Parquet, console and tracking callbacks;
returns the compacted results table."""
import os
import os.path as osp

from . import driver_state
from .cluster import check_nodes, connect_ray
from .common import SweepError, git_rev, say
from .folder import record_run
from .killable_fs import killable_fs
from .search import journal_place, searcher
from .warmup import ensure_warmup


def run(plan, folder):
    from ray import tune

    from .naming import tune_trial_dirname, tune_trial_name
    from .parquet_callback import ParquetResultsCallback
    from .results import TrialResultWriter
    from .trainable import run_trial

    # the console is ours (sweeps/progress.py): Tune's legacy output engine at verbose=0 prints
    # nothing (the new one prints its configuration box at any verbosity)
    os.environ['RAY_AIR_NEW_OUTPUT'] = '0'
    os.environ.setdefault('TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S', '0')
    os.environ.setdefault('TUNE_DISABLE_AUTO_CALLBACK_LOGGERS', '1')
    # a failed trial is one line of ours (name and reason); the traceback is in its error.txt
    os.environ.setdefault('TUNE_PRINT_ALL_TRIAL_ERRORS', '0')
    tune_dir, fs = tune_location(plan)
    resuming = can_restore(plan)
    diff = folder.check_plan(resuming)
    connect_ray(plan)
    nodes = check_nodes(plan)
    say(plan.args, f'{nodes} node(s) can run trials; data root {plan.data_root} checked on each')
    for cfg in plan.warmups.values():
        ensure_warmup(cfg, plan.local_root, plan.data_root, cpus=plan.args.cpus_per_trial,
                      gpus=plan.args.gpus_per_trial, log=lambda text, **_: say(plan.args, text),
                      store=None if plan.store.local else plan.store, local_dir=plan.local_dir)
    resources = {'cpu': plan.args.cpus_per_trial, 'gpu': plan.args.gpus_per_trial}
    trainable = tune.with_resources(tune.with_parameters(run_trial, context=plan.context()),
                                    resources)
    metric = None if plan.space.objectives else plan.space.metric
    mode = None if plan.space.objectives else plan.space.mode
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback
    callbacks = [ParquetResultsCallback(plan.sweep_dir, plan.name, plan.space.name,
                                        plan.benchmark, git_rev(),
                                        {n: dict(v.knobs) for n, v in
                                         plan.space.variants.items()}),
                 JsonLoggerCallback(), CSVLoggerCallback(), _driver_callbacks(plan)]
    # where a restored Optuna searcher's journal is
    driver_state.journal_folder, driver_state.journal_store = journal_place(plan)
    if resuming:
        say(plan.args, f'resuming sweep {plan.name} from {plan.sweep.shown("tune")}')
        try:
            tuner = tune.Tuner.restore(tune_dir, trainable=trainable, resume_errored=True,
                                       storage_filesystem=fs)
        except Exception as err:  # noqa: BLE001
            raise SweepError(f'cannot resume sweep {plan.name} from {plan.sweep.shown("tune")}: '
                             f'{str(err).strip().splitlines()[-1][:300]}; use another --name '
                             'for a new sweep') from err
        record_run(plan, folder, resuming, diff)  # the plan that runs: restored, so applicable
    else:
        record_run(plan, folder, resuming, diff)  # first, so tune/ never exists without plan.json
        search_alg, _ = searcher(plan, persist=True)  # Optuna's study: <sweep>/optuna.journal
        tuner = tune.Tuner(
            trainable, param_space=plan.param_space,
            tune_config=tune.TuneConfig(
                metric=metric, mode=mode, search_alg=search_alg, scheduler=plan.tune_scheduler,
                num_samples=plan.num_samples if plan.search == 'optuna' else 1,
                max_concurrent_trials=plan.args.max_concurrent or None,
                trial_name_creator=tune_trial_name, trial_dirname_creator=tune_trial_dirname,
                # a finished trial's worker process (torch, mmseg imported) runs the next one
                reuse_actors=True),
            run_config=tune.RunConfig(
                name='tune', storage_path=plan.sweep.path(), storage_filesystem=fs, verbose=0,
                callbacks=callbacks,
                failure_config=tune.FailureConfig(max_failures=plan.args.max_failures),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=2)))
    tuner.fit()
    try:
        return TrialResultWriter(plan.sweep).compact()
    except ValueError as err:  # never replaced: it may hold rows no trial file has any more
        raise SweepError(f'{err}; it is kept as it is: move it away to rebuild it from the '
                         'trial files') from err


def tune_location(plan):
    """(the Tune experiment's path, its pyarrow file system): `<sweep>/tune` in the sweep's
    folder (file system None: Tune's default, as before) or on the object store."""
    if plan.store.local:
        return osp.join(plan.sweep_dir, 'tune'), None
    return plan.sweep.path('tune'), killable_fs(plan.store.fs)


def can_restore(plan):
    """Whether the sweep has a Tune experiment to restore."""
    from ray import tune
    path, fs = tune_location(plan)
    return tune.Tuner.can_restore(path, storage_filesystem=fs)


def _driver_callbacks(plan):
    """The console progress and the trackers of this command (sweeps/progress.py
    SweepCallbacks: a resumed sweep uses these, not the first run's)."""
    from .progress import ConsoleProgress, SweepCallbacks
    callbacks = [ConsoleProgress(quiet=plan.args.quiet,
                                 interval=float(os.environ.get('ADASWEEP_PROGRESS_SECONDS', 60)))]
    if 'mlflow' in plan.trackers:
        from .tracking import mlflow_callback
        callbacks.append(mlflow_callback(plan.tracking_uri, plan.name, plan.space.name,
                                         plan.benchmark, git_rev(),
                                         {n: dict(v.knobs) for n, v in
                                          plan.space.variants.items()}))
    if 'wandb' in plan.trackers:
        from .tracking_wandb import wandb_callback
        callbacks.append(wandb_callback(plan.wandb, plan.sweep_dir, plan.name, plan.space.name,
                                        plan.benchmark, git_rev(),
                                        {n: dict(v.knobs) for n, v in
                                         plan.space.variants.items()}))
    return SweepCallbacks(callbacks)
