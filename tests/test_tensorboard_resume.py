"""A trial resumed from its checkpoint logs the iterations after that checkpoint again; the
killed attempt's events written after the checkpoint are dropped first (sweeps.tracking
drop_events_after), so TensorBoard shows every step of every tag once (issue 20, "Also")."""
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.tensorboard import SummaryWriter

from sweeps.tracking import drop_events_after


def _log(log_dir, steps, rounds, start, value):
    """Scalars as a trial logs them: `loss` per iteration, `by_round/mIoU` per round, and the
    wall time of each event (seconds) explicit."""
    writer = SummaryWriter(log_dir)
    for step in steps:
        writer.add_scalar('loss', value + step, step, walltime=start + step)
    for rnd in rounds:
        writer.add_scalar('by_round/mIoU', value + rnd, rnd, walltime=start + 10 * rnd + 5)
    writer.close()


def _scalars(log_dir):
    events = EventAccumulator(str(log_dir), size_guidance={'scalars': 0})
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)]
            for tag in events.Tags()['scalars']}


def test_resumed_attempt_logs_each_step_once(tmp_path):
    log_dir = tmp_path / 'tb'
    # the killed attempt: iterations 1-25 and rounds 0-2, its last checkpoint written at
    # iteration 20 (time 1000 + 20.7); rounds are evaluated at iterations 5, 15, 25
    _log(log_dir, range(1, 26), [0, 1, 2], 1000.0, 0.0)
    assert drop_events_after(str(log_dir), 1020.7) == 5 + 1
    # the resumed attempt logs iterations 21-30 and rounds 2-3 again, with other values
    _log(log_dir, range(21, 31), [2, 3], 2000.0, 100.0)
    got = _scalars(log_dir)
    assert [s for s, _ in got['loss']] == list(range(1, 31))
    assert got['loss'][:20] == [(s, float(s)) for s in range(1, 21)]
    assert got['loss'][20:] == [(s, 100.0 + s) for s in range(21, 31)]
    assert got['by_round/mIoU'] == [(0, 0.0), (1, 1.0), (2, 102.0), (3, 103.0)]
    assert drop_events_after(str(log_dir), 3000.0) == 0  # nothing later: the files stay
