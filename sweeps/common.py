"""What every module of `sweeps` shares: the repository root, the default data root and the
error type of bad sweep input (the CLI prints it as one `error:` line and exits 2)."""
import os
import os.path as osp
import re
import subprocess

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


class SweepError(ValueError):
    """Bad sweep input: the CLI prints it as one line and exits non-zero."""


def default_data_root():
    """`$ADASWEEP_DATA`, else `<repo>/data`, absolute (relative to the current directory)."""
    return osp.abspath(os.environ.get('ADASWEEP_DATA') or osp.join(REPO, 'data'))


# userinfo of a URI (scheme://user:password@host, scheme://token@host)
_URI_USERINFO = re.compile(r'(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@\'"?#]+@')
# query or fragment parameters whose name says they carry a secret (token, access_token, api_key,
# password, X-Amz-Signature, sig, auth, ...)
_SECRET_PARAM = re.compile(r'(?P<name>[?&;#][\w.-]*(?:token|key|secret|passw(?:or)?d|pwd|sig|'
                           r'signature|auth|credential)[\w.-]*=)[^&;#\s\'"]+', re.IGNORECASE)
MASK = '***'


def mask_secrets(value):
    """`value` with the credentials of every URI in it masked: the user info
    (`https://user:pass@host` -> `https://***@host`) and the values of token-like query
    parameters (`?token=abc` -> `?token=***`). Strings, and lists, tuples and dicts of them
    (recursively); anything else is returned as it is. Used wherever a command line, a config
    or a URI is printed or stored (history.jsonl, sweep.json, configs.json, plan.json, the
    console, the report, the tracking parameters)."""
    if isinstance(value, str):
        if '://' not in value and '=' not in value:
            return value
        value = _URI_USERINFO.sub(lambda m: m.group('scheme') + MASK + '@', value)
        return _SECRET_PARAM.sub(lambda m: m.group('name') + MASK, value)
    if isinstance(value, dict):
        return {k: mask_secrets(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(mask_secrets(v) for v in value)
    return value


def say(args, text):
    """A progress line, unless --quiet."""
    if not getattr(args, 'quiet', False):
        print(text, flush=True)


def git_rev():
    try:
        return subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=REPO, text=True,
                              capture_output=True, timeout=10).stdout.strip() or 'unknown'
    except (OSError, subprocess.SubprocessError):
        return 'unknown'
