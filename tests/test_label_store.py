"""ActiveLabelStore: bought labels on disk, the ledger, crash recovery and exact rollback."""
import json

import numpy as np
import pytest
from PIL import Image

from mmseg_ext.active.label_store import ActiveLabelStore


@pytest.fixture
def store(tmp_path):
    items = []
    for i in range(3):
        gt = np.random.default_rng(i).integers(0, 19, (6, 8)).astype(np.uint8)
        gt[0, 0] = 255
        path = tmp_path / 'gt' / 'city' / f'img{i}_gtFine_labelTrainIds.png'
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(gt).save(path)
        items.append((f'city/img{i}_gtFine_labelTrainIds.png', path))
    store = ActiveLabelStore(tmp_path / 'active')
    paths = store.initialise(items)
    assert all(np.all(np.array(Image.open(p)) == 255) for p in paths)
    return store


def _box(r0, r1, c0, c1, shape=(6, 8)):
    m = np.zeros(shape, bool)
    m[r0:r1, c0:c1] = True
    return m


def _snapshot(store):
    return {e['rel']: (store.labels(e['rel']).copy(), *store.state(e['rel'])) for e in store.index()}


def test_commit_buys_ground_truth_and_writes_the_ledger(store):
    rel = store.index()[0]['rel']
    gt = np.array(Image.open(store.gt_path(rel)))
    d = store.delta(rel, _box(0, 2, 0, 2), _box(0, 3, 0, 3), units=1)
    rows = store.commit_round(0, 10, {rel: d}, strategy='ripu_ra')
    labels = store.labels(rel)
    assert np.array_equal(labels[:2, :2], gt[:2, :2]) and np.all(labels[2:] == 255)
    blocked, bought = store.state(rel)
    assert blocked.sum() == 9 and bought.sum() == 4
    assert rows[0]['pixels'] == 4 and rows[0]['void_pixels'] == 1 and rows[0]['units'] == 1
    assert sum(rows[0]['classes'].values()) == 3
    ledger = [json.loads(line) for line in (store.root / 'ledger.jsonl').read_text().splitlines()]
    assert ledger == store.ledger() and ledger[0]['iteration'] == 10


def test_rebuying_counts_only_new_pixels(store):
    rel = store.index()[1]['rel']
    store.commit_round(0, 10, {rel: store.delta(rel, _box(0, 2, 0, 2), _box(0, 2, 0, 2), 1)})
    d = store.delta(rel, _box(0, 3, 0, 3), _box(0, 3, 0, 3), 1)
    assert d['row']['pixels'] == 5


def test_rollback_restores_exactly_the_earlier_state(store):
    rels = [e['rel'] for e in store.index()]
    store.commit_round(0, 10, {r: store.delta(r, _box(0, 2, 0, 2), _box(0, 3, 0, 3), 1) for r in rels})
    before = _snapshot(store)
    store.commit_round(1, 20, {r: store.delta(r, _box(3, 5, 4, 7), _box(2, 6, 3, 8), 1)
                               for r in rels[:2]})
    assert store.rollback(15) == [1]
    after = _snapshot(store)
    for rel in rels:
        for a, b in zip(before[rel], after[rel]):
            assert np.array_equal(a, b)
    assert [r['round'] for r in store.rounds()] == [0]
    assert store.rollback(0) == [0]
    assert all(np.all(store.labels(r) == 255) and not store.state(r)[0].any() for r in rels)
    assert store.ledger() == []


def test_interrupted_commit_is_completed_by_recover(store, monkeypatch):
    rel = store.index()[2]['rel']
    d = store.delta(rel, _box(1, 3, 1, 3), _box(0, 4, 0, 4), 1)

    def crash(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(store, '_apply', crash)
    with pytest.raises(KeyboardInterrupt):
        store.commit_round(0, 5, {rel: d})
    assert store.rounds() == []  # not committed yet
    monkeypatch.undo()
    ActiveLabelStore(store.root).recover()
    assert [r['iteration'] for r in store.rounds()] == [5]
    assert store.state(rel)[1].sum() == 4


def test_store_refuses_another_image_list(store, tmp_path):
    with pytest.raises(ValueError, match='another image list'):
        ActiveLabelStore(store.root).initialise([('other.png', store.gt_path(store.index()[0]['rel']))])


def test_rollback_undoes_rounds_bought_before_the_update_of_the_checkpoint_iteration(store):
    """A round bought before the update of iteration i (ADeADA, source-free RIPU) comes after a
    checkpoint of i completed updates: rollback(i) undoes it (0: a fresh run starts empty); a
    round bought after update i (RIPU) is in that checkpoint and stays."""
    rel = store.index()[0]['rel']
    empty = _snapshot(store)
    store.commit_round(0, 0, {rel: store.delta(rel, _box(0, 1, 0, 1), _box(0, 1, 0, 1), 1)},
                       before_update=True)
    assert store.rollback(0) == [0]
    after = _snapshot(store)
    assert all(np.array_equal(a, b) for k in empty for a, b in zip(empty[k], after[k]))
    store.commit_round(0, 8, {rel: store.delta(rel, _box(0, 1, 0, 1), _box(0, 1, 0, 1), 1)})
    store.commit_round(1, 16, {rel: store.delta(rel, _box(2, 3, 2, 3), _box(2, 3, 2, 3), 1)},
                       before_update=True)
    assert store.rollback(16) == [1] and store.rollback(8) == []
    assert [r['iteration'] for r in store.rounds()] == [8]


def test_pseudo_labels_are_kept_apart_from_bought_labels(store, monkeypatch):
    """POINT-ENT: oracle points are bought (ground truth, counted as pixels), pseudo labels are
    written to the label file but counted as pseudo_pixels and flagged in the state; a pseudo
    label never overwrites a bought pixel; recover and rollback handle them like bought ones."""
    rel = store.index()[0]['rel']
    gt = np.array(Image.open(store.gt_path(rel)))
    before = _snapshot(store)
    pseudo = np.full((6, 8), 255, np.uint8)
    pseudo[:, 4:] = 7                         # the model's labels on the right half
    pseudo[0, 5] = 255                        # a pixel without a pseudo label
    oracle = _box(0, 1, 4, 6)                 # two oracle clicks inside the pseudo area
    d = store.delta(rel, oracle, oracle, units=2, pseudo=pseudo)
    assert d['row']['pixels'] == 2 and d['row']['pseudo_pixels'] == 6 * 4 - 1 - 1

    def crash(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr(store, '_apply', crash)
    with pytest.raises(KeyboardInterrupt):
        store.commit_round(0, 0, {rel: d}, before_update=True)
    monkeypatch.undo()
    ActiveLabelStore(store.root).recover()
    labels = store.labels(rel)
    assert labels[0, 4] == gt[0, 4] and labels[0, 5] == gt[0, 5]  # bought: ground truth
    assert np.all(labels[1:, 4:] == 7) and np.all(labels[:, :4] == 255)
    assert store.pseudo(rel).sum() == 22 and not store.pseudo(rel)[0, 4]
    assert store.state(rel)[1].sum() == 2      # bought = the oracle pixels only
    assert store.ledger()[0]['pseudo_pixels'] == 22
    other = store.index()[1]['rel']           # rows without pseudo labels do not change
    store.commit_round(1, 5, {other: store.delta(other, _box(0, 1, 0, 1), _box(0, 1, 0, 1), 1)})
    assert 'pseudo_pixels' not in store.ledger()[1] and np.all(store.labels(rel)[1:, 4:] == 7)
    with pytest.raises(ValueError, match='pseudo-labelled'):
        store.delta(rel, _box(2, 3, 6, 7), _box(2, 3, 6, 7), 1)
    assert store.rollback(0) == [1, 0]         # both undone, newest first
    after = _snapshot(store)
    assert all(np.array_equal(a, b) for k in before for a, b in zip(before[k], after[k]))
    assert not store.pseudo(rel).any()


@pytest.mark.slow  # long for the default run (about 10 s or more)
def test_rounds_past_999_are_in_numeric_order_and_roll_back(tmp_path, monkeypatch):
    """Round files are named round_NNN (3 digits): from round 1000 on the text order is wrong
    ([..., 100, 1000, 1001, 101, ...]), so rollback kept labels bought after the checkpoint and
    ADA-MCU's "already committed at this iteration" check read the wrong last round."""
    from adasweep_base import fileio
    monkeypatch.setattr(fileio, 'fsync_path', lambda *a, **k: None)  # durability: not tested here
    monkeypatch.setattr(fileio, '_syncfs', lambda path: True)
    gt = np.random.default_rng(0).integers(0, 19, (32, 32)).astype(np.uint8)
    path = tmp_path / 'gt' / 'img_gtFine_labelTrainIds.png'
    path.parent.mkdir(parents=True)
    Image.fromarray(gt).save(path)
    store = ActiveLabelStore(tmp_path / 'active')
    store.initialise([('img_gtFine_labelTrainIds.png', path)])
    rel = store.index()[0]['rel']
    n = 1002
    for i in range(n):  # round i buys pixel i at iteration i
        pick = np.zeros(gt.shape, bool)
        pick.flat[i] = True
        store.commit_round(i, i, {rel: store.delta(rel, pick, pick, units=1)})
    rounds = store.rounds()
    assert [r['round'] for r in rounds] == list(range(n))
    assert rounds[-1]['iteration'] == n - 1  # what adaptive_sampling_hook._commit compares
    assert store.rollback(995) == list(range(n - 1, 995, -1))  # 1001 ... 996, newest first
    labels = store.labels(rel)
    assert np.array_equal(labels.flat[:996], gt.flat[:996])
    assert np.all(labels.flat[996:] == 255)
    assert [row['round'] for row in store.ledger()] == list(range(996))
