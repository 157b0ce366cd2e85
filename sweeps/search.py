"""Search and schedulers: Tune's param_space and search algorithm of a plan (grid, random, Optuna
with its journal in the sweep folder) and its scheduler (FIFO, ASHA, PBT), built and so checked
before anything runs.

`OptunaSpace` and `SweepJournal` live in this importable module because Tune pickles the
searcher with them (tuner.pkl, searcher-state): a pickle names them by module path, which must
load in any process (never `__main__`)."""
import os
import os.path as osp

from . import driver_state
from .common import SweepError


JOURNAL_FILE = 'optuna.journal'


class OptunaSpace:
    """Optuna's define-by-run space of a sweep: the variant (when there are several) and the
    axes; returns the constants of every trial. A class of an importable module, not a closure:
    Tune saves the searcher with the standard pickle (OptunaSearch.save)."""

    def __init__(self, space):
        self.variants, self.axes = list(space.variants), dict(space.axes)

    def __call__(self, trial):
        if len(self.variants) > 1:
            trial.suggest_categorical('variant', self.variants)
        for name, axis in self.axes.items():
            if axis.values is not None:
                trial.suggest_categorical(name, list(axis.values))
            elif axis.integer:
                trial.suggest_int(name, int(axis.low), int(axis.high), log=axis.log)
            else:
                trial.suggest_float(name, axis.low, axis.high, log=axis.log)
        return {'seed': 0, **({} if len(self.variants) > 1 else {'variant': self.variants[0]})}


class SweepJournal:
    """The sweep's Optuna journal, <sweep>/optuna.journal: Optuna's JournalFileBackend with the
    O_EXCL lock file (JournalFileOpenLock, safe on NFSv3 and later), opened (and the file
    created) on first use. Tune pickles it with the searcher; unpickled in a driver that runs a
    sweep (`driver_state.journal_folder`, set by tune_run.run and `searcher`), it is that sweep
    folder's journal: a restored searcher of a moved sweep folder writes the journal there, never
    at the old path.

    With an object-store sweep (`store`, a sweeps.storage.Storage of the sweep) the journal is
    worked on in the driver's local folder and kept on the store: fetched when first opened,
    uploaded (one whole object) after every append."""

    def __init__(self, path, store=None):
        self.path, self.store, self._backend = path, store, None

    def _file(self):
        if self._backend is None:
            if self.store is not None:  # the store's journal is the study, not a local leftover
                if self.store.is_file(JOURNAL_FILE):
                    self.store.download(JOURNAL_FILE, self.path)
                elif osp.isfile(self.path):
                    os.unlink(self.path)
                os.makedirs(osp.dirname(self.path), exist_ok=True)
            from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock
            self._backend = JournalFileBackend(self.path,
                                               lock_obj=JournalFileOpenLock(self.path))
        return self._backend

    def read_logs(self, log_number_from):
        return self._file().read_logs(log_number_from)

    def append_logs(self, logs):
        self._file().append_logs(logs)
        if self.store is not None:
            self.store.upload(self.path, JOURNAL_FILE)

    def __getstate__(self):
        return {'path': self.path}

    def __setstate__(self, state):
        folder = driver_state.journal_folder or osp.dirname(state['path'])
        self.path, self._backend = osp.join(folder, osp.basename(state['path'])), None
        self.store = driver_state.journal_store


def journal_place(plan):
    """(the folder of the sweep's Optuna journal, the object store it is kept on or None)."""
    if plan.store.local:
        return plan.sweep_dir, None
    return osp.join(plan.local_root, plan.name), plan.sweep


def searcher(plan, persist=False):
    """The search algorithm and Tune's param_space. Optuna's study is named after the sweep and
    kept, with persist, in <sweep>/optuna.journal (run() builds it so; the Plan, also for
    --dry-run, builds it in memory, so nothing is written). Tuner.restore brings the searcher
    back with its storage: a resumed sweep goes on in the same study."""
    from ray import tune
    space = plan.space
    if plan.search != 'optuna':
        if plan.scheduler == 'pbt' and plan.search == 'grid' and space.axes:
            # PBT mutates top-level keys: the axes go there (the same grid, as a product)
            base = [dict(t, params={}) for t in plan.trials
                    if all(t['params'][n] == space.axes[n].grid(n)[0] for n in space.axes)]
            return None, {'trial': tune.grid_search(base),
                          **{n: tune.grid_search(a.grid(n)) for n, a in space.axes.items()}}
        return None, {'trial': tune.grid_search(plan.trials)}
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    if space.objectives:
        metric = [m for m, _ in space.objectives]
        mode = [m for _, m in space.objectives]
    else:
        metric, mode = space.metric, space.mode
    storage = None
    if persist:
        folder, store = journal_place(plan)
        driver_state.journal_folder, driver_state.journal_store = folder, store
        storage = optuna.storages.JournalStorage(
            SweepJournal(osp.join(folder, JOURNAL_FILE), store))
    search = OptunaSearch(space=OptunaSpace(space), metric=metric, mode=mode,
                            sampler=optuna.samplers.TPESampler(seed=0), storage=storage,
                            study_name=plan.name)
    return search, {}


def scheduler(plan):
    """The Tune scheduler, built (and so checked) before anything runs. ASHA's rungs count
    reports: every trial reports at each evaluation (selection rounds or eval_iters) and at
    the end."""
    from ray.tune.schedulers import ASHAScheduler, PopulationBasedTraining
    if plan.scheduler == 'asha':
        if plan.space.objectives:
            raise SweepError('--scheduler asha needs one metric; this space optimises several '
                             '(use fifo)')
        if plan.reports < 2:
            raise SweepError(f'--scheduler asha needs trials that report more than once; the '
                             f'trials of {plan.space.name} report {plan.reports} time(s)')
        return ASHAScheduler(time_attr='training_iteration', max_t=plan.reports,
                             grace_period=min(2, plan.reports), reduction_factor=2)
    if plan.scheduler == 'pbt':
        from ray import tune
        if plan.search != 'grid':
            raise SweepError(f'--scheduler pbt needs --search grid (Ray Tune runs no search '
                             f'algorithm with PopulationBasedTraining), got {plan.search!r}')
        mutations = {n: (list(a.values) if a.values is not None else tune.uniform(a.low, a.high))
                     for n, a in plan.space.axes.items()}
        if not mutations:
            raise SweepError('--scheduler pbt needs a space with axes to mutate')
        if plan.space.objectives:
            raise SweepError('--scheduler pbt needs one metric; this space optimises several '
                             '(use fifo)')
        return PopulationBasedTraining(time_attr='training_iteration', perturbation_interval=1,
                                       hyperparam_mutations=mutations)
    return None
