"""The running driver's state that Tune's pickles must find: the one place for it.

Tune pickles its callbacks and the searcher into the experiment state (tuner.pkl,
experiment_state-*.json, searcher-state) and brings them back on `Tuner.restore`. What the
restored objects must do depends on the driver that restores them, not on the one that pickled
them, so they pickle as references to this module's values, which the running driver sets:

- `parquet_callback`: the driver's `ParquetResultsCallback` (sweeps/parquet_callback.py), so a
  resumed sweep writes its rows with this driver's settings (storage folder, git revision), even
  when the sweep folder was moved. Set when the callback is made.
- `sweep_callbacks`: the driver's `SweepCallbacks` (sweeps/progress.py: console progress and
  trackers), so a resumed sweep prints and tracks as this command says (`--quiet`,
  `--tracking`), not as the first run did. Set when it is made.
- `journal_folder`: the sweep folder whose `optuna.journal` a restored `SweepJournal`
  (sweeps/search.py) opens, so a moved sweep folder's searcher writes its journal there. Set by
  sweeps.tune_run.run and sweeps.search.searcher.

- `journal_store`: with an object-store sweep, the sweeps.storage.Storage of the sweep, where
  that journal is kept (None for a folder). Set with `journal_folder`.

Outside a driver (offline analysis of a sweep folder) they are None: restored callbacks are
inert and a journal opens at its pickled path.
"""
parquet_callback = None
sweep_callbacks = None
journal_folder = None
journal_store = None
