"""What every module of `sweeps` shares: the repository root, the default data root and the
error type of bad sweep input (the CLI prints it as one `error:` line and exits 2)."""
import os
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


class SweepError(ValueError):
    """Bad sweep input: the CLI prints it as one line and exits non-zero."""


def default_data_root():
    """`$ADASWEEP_DATA`, else `<repo>/data`, absolute (relative to the current directory)."""
    return osp.abspath(os.environ.get('ADASWEEP_DATA') or osp.join(REPO, 'data'))
