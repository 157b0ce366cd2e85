"""Weights & Biases (`--tracking wandb`): the driver's checks and Ray Tune's WandbLoggerCallback.

One W&B run per trial (id = Tune's trial id, name = the trial's name, as in the Parquet
`trial_name` column), grouped by sweep (group = the sweep's name), in the project of
`--wandb-project` (else WANDB_PROJECT, else `adasweep`) and the entity of `--wandb-entity` (else
WANDB_ENTITY, else the API key's default entity). Config: the trial's parameters (variant, seed,
trial_name, the variant's and sampled knobs, as MLflow's); metrics: every numeric value of each
report, with `round` as their x-axis. The runs' files go to `<sweep>/wandb/` (offline runs stay
there, for `wandb sync`). A resumed trial continues its own run (same id, resume='allow').

Before anything starts the driver checks, in online mode (WANDB_MODE unset or `online`), that
there are credentials (WANDB_API_KEY, WANDB_IDENTITY_TOKEN_FILE, a netrc entry for the server,
or `wandb login`'s settings) and that the server answers within a few seconds and accepts the
key; offline and disabled modes need neither.
"""
import base64
import json
import os
import re
import socket
import urllib.error
import urllib.request

from .common import SweepError, mask_secrets
from .storage import is_uri

WANDB_EXTRA = "pip install -e '.[wandb]'"
DEFAULT_PROJECT = 'adasweep'
LOCAL_MODES = ('offline', 'dryrun', 'disabled')
MODES = ('online', 'run', 'shared', *LOCAL_MODES)
BAD_NAME = re.compile(r'[/\\#?%:\s]')


def wandb_target(trackers, project, entity, timeout=5):
    """The (project, entity) W&B runs go to, or None without `wandb` in `trackers`; one
    SweepError line for a W&B flag without `--tracking wandb`, wandb not installed, a bad name
    or mode, or (online) missing credentials or a server that does not answer."""
    if 'wandb' not in trackers:
        for flag, value in (('--wandb-project', project), ('--wandb-entity', entity)):
            if value:
                raise SweepError(f'{flag} {value}: needs --tracking wandb')
        return None
    try:
        import wandb  # noqa: F401
    except ImportError:
        raise SweepError(f'--tracking wandb: wandb is not installed ({WANDB_EXTRA})') from None
    project = project or os.environ.get('WANDB_PROJECT') or DEFAULT_PROJECT
    entity = entity or os.environ.get('WANDB_ENTITY') or None
    for what, value in (('project', project), ('entity', entity)):
        if value is not None and (BAD_NAME.search(value) or len(value) > 128):
            raise SweepError(f'W&B {what} {value!r}: expected a name of at most 128 characters '
                             'without spaces or any of / \\ # ? % :')
    mode = os.environ.get('WANDB_MODE', 'online').strip().lower() or 'online'
    if mode not in MODES:
        raise SweepError(f'WANDB_MODE={mode}: expected one of {", ".join(MODES)}')
    if mode not in LOCAL_MODES:
        check_wandb_server(timeout)
    return project, entity


def _credentials(base_url):
    """(what, API key or None) for `base_url`, found where wandb looks, without network."""
    from wandb.sdk.lib.wbauth import read_netrc_auth
    if os.environ.get('WANDB_API_KEY'):
        return 'WANDB_API_KEY', os.environ['WANDB_API_KEY']
    if os.environ.get('WANDB_IDENTITY_TOKEN_FILE'):
        return 'WANDB_IDENTITY_TOKEN_FILE', None
    key = read_netrc_auth(host=base_url)
    if key:
        return 'netrc', key
    from wandb.sdk import wandb_setup
    key = wandb_setup.singleton().settings.api_key
    return ('settings', key) if key else (None, None)


def check_wandb_server(timeout=5):
    """Online mode: credentials exist and the W&B server answers one GraphQL request (the
    viewer) within `timeout` seconds, no retries, and does not refuse the key."""
    try:
        from wandb.sdk import wandb_setup
        base_url = wandb_setup.singleton().settings.base_url.rstrip('/')
    except Exception as err:  # noqa: BLE001  (pydantic's validation of WANDB_BASE_URL & co.)
        text = ' '.join(str(err).split())[:200]
        raise SweepError(f'--tracking wandb: bad W&B settings ({text})') from None
    shown = mask_secrets(base_url)
    source, key = _credentials(base_url)
    if source is None:
        raise SweepError(f'--tracking wandb: no W&B credentials for {shown} (set WANDB_API_KEY, '
                         'run `wandb login`, or set WANDB_MODE=offline)')
    headers = {'Content-Type': 'application/json'}
    if key:
        headers['Authorization'] = 'Basic ' + base64.b64encode(f'api:{key}'.encode()).decode()
    request = urllib.request.Request(f'{base_url}/graphql', headers=headers, method='POST',
                                     data=json.dumps({'query': '{ viewer { id } }'}).encode())
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read(1 << 16)
    except urllib.error.HTTPError as err:
        if err.code in (401, 403):
            raise SweepError(f'--tracking wandb: the W&B server at {shown} refused the '
                             f'credentials from {source} (HTTP {err.code})') from None
        if err.code >= 500:
            raise SweepError(f'--tracking wandb: the W&B server at {shown} answered HTTP '
                             f'{err.code}') from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, 'reason', err)
        text = 'connection refused' if isinstance(reason, ConnectionRefusedError) else \
            f'no answer within {timeout} s' if isinstance(reason, (socket.timeout, TimeoutError)) \
            else ' '.join(str(reason).split())[:200]
        raise SweepError(f'--tracking wandb: cannot reach the W&B server at {shown} '
                         f'({text})') from None


def wandb_callback(target, sweep_dir, sweep, space, benchmark, git_rev, variant_knobs):
    """Ray Tune's WandbLoggerCallback for this sweep (see WandbTrialLogger)."""
    import ray
    from ray.air.integrations.wandb import WandbLoggerCallback, _WandbLoggingActor
    from ray.air.util.node import _force_on_current_node

    from .naming import trial_name
    from .tracking import RAY_KEYS, trial_params

    project, entity = target

    class RoundLoggingActor(_WandbLoggingActor):
        """Ray's logging actor, with `round` as the x-axis of every metric, that returns only
        once wandb's service has written everything: `wandb.finish()` returns before the
        service has flushed the run file, and Ray kills the actor (and the service, its child)
        as soon as `run` returns, which could leave a run file without its records."""

        def run(self):
            try:
                super().run()
            finally:
                self._wandb.teardown()

        def _handle_result(self, result):
            if not getattr(self, '_round_axis', False):
                self._wandb.define_metric('round')
                self._wandb.define_metric('*', step_metric='round')
                self._round_axis = True
            return super()._handle_result(result)

    class WandbTrialLogger(WandbLoggerCallback):
        """Runs named after the trial, with the trial's own parameters rather than Tune's nested
        config, grouped by sweep, continued when the trial resumes; the logging actors get the
        driver's WANDB_* variables (mode, server, key), wherever Ray started their workers."""
        _logger_actor_cls = RoundLoggingActor

        def log_trial_start(self, trial):
            name = trial_name(trial.config)
            config = {k: mask_secrets(v) if isinstance(v, str) else v
                      for k, v in trial_params(trial.config, variant_knobs).items()}
            exclude = [*self._exclude_results, *self.excludes, 'config']
            self._start_logging_actor(
                trial, exclude, id=trial.trial_id, name=name, group=sweep, project=project,
                entity=entity, config=config, resume='allow', reinit='finish_previous',
                allow_val_change=True, dir=None if is_uri(sweep_dir) else sweep_dir,
                tags=[space, benchmark], notes=f'adasweep {git_rev}')

        def _start_logging_actor(self, trial, exclude_results, **init_kwargs):
            if not self._remote_logger_class:
                env = {k: v for k, v in os.environ.items() if k.startswith('WANDB_')}
                self._remote_logger_class = ray.remote(
                    num_cpus=0, **_force_on_current_node(), runtime_env={'env_vars': env},
                    max_restarts=-1, max_task_retries=-1)(self._logger_actor_cls)
            super()._start_logging_actor(trial, exclude_results, **init_kwargs)

    return WandbTrialLogger(project=project, group=sweep,
                            excludes=[k for k in RAY_KEYS if k != 'training_iteration'])
