"""Whether a process of this machine is alive: the one check the stale-lock clean-ups share
(SynthShift's generation folders, the S3 driver lease's same-host take-over)."""
import os


def pid_alive(pid):
    """True when process `pid` (an int or its decimal text) exists on this machine; one we may
    not signal exists too. False for a pid that is gone or text that is not a pid."""
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True
