"""mmseg_ext.tools.convert_datasets and class_stats on tiny official-format releases."""
import filecmp
import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from fixtures_official import (fixture_ids, synthia_label,  # noqa: E402
                               write_cityscapes_release, write_gta5_release,
                               write_synthia_release)
from adasweep_base.classes import (CITYSCAPES_ID_TO_TRAINID_16,  # noqa: E402
                                        CITYSCAPES_ID_TO_TRAINID_19, SYNTHIA_ID_TO_TRAINID_16,
                                        SYNTHIA_ID_TO_TRAINID_19)
from mmseg_ext.tools.class_stats import load_class_stats  # noqa: E402
from mmseg_ext.tools.convert_datasets import ConversionError, convert, main  # noqa: E402

SIZE = (8, 10)


def expected(ids, mapping):
    out = np.full(ids.shape, 255, np.uint8)
    for src, dst in mapping.items():
        out[ids == src] = dst
    return out


def read(path):
    im = Image.open(path)
    assert im.mode == 'L'
    return np.array(im)


def outputs(root):
    """Everything the converter may write: train-id labels, stats, temp files."""
    found = []
    for dirpath, _, files in os.walk(root):
        found += [os.path.join(dirpath, f) for f in files
                  if 'TrainIds' in f or f.startswith('.') or f.endswith('.json')]
    return sorted(found)


# ----------------------------------------------------------------------------- values


def test_gta5_reads_palette_index(tmp_path):
    root = write_gta5_release(tmp_path / 'gta5', n=3, size=SIZE)
    im = Image.open(os.path.join(root, 'labels', '00001.png'))
    assert im.mode == 'P' and im.getpalette()[21:24] != [128, 64, 128]
    outs = convert('gta5', root, nproc=1)
    assert [os.path.basename(p) for p in outs] == [f'0000{i}_labelTrainIds.png' for i in (1, 2, 3)]
    for i, out in enumerate(outs, 1):
        got = read(out)
        ids = fixture_ids(i, SIZE, 40)
        np.testing.assert_array_equal(got, expected(ids, CITYSCAPES_ID_TO_TRAINID_19))
        for src, dst in ((7, 0), (8, 1), (26, 13), (33, 18), (0, 255), (34, 255), (39, 255)):
            assert (got[ids == src] == dst).all()


def test_synthia_16_and_19(tmp_path):
    root = write_synthia_release(tmp_path / 'synthia', n=3, size=SIZE)
    for num_classes, mapping, checks in (
            (16, SYNTHIA_ID_TO_TRAINID_16, ((3, 0), (1, 9), (10, 10), (11, 15), (0, 255),
                                            (22, 255))),
            (19, SYNTHIA_ID_TO_TRAINID_19, ((3, 0), (1, 10), (10, 11), (11, 18), (8, 13), (19, 15),
                                            (0, 255), (13, 255), (24, 255)))):
        outs = convert('synthia', root, num_classes=num_classes, nproc=1)
        assert outs[0] == os.path.join(root, 'GT', 'LABELS', '0000000_labelTrainIds.png')
        for i, out in enumerate(outs):
            got = read(out)
            red = synthia_label(i, SIZE)[..., 0]
            np.testing.assert_array_equal(got, expected(red, mapping))
            for src, dst in checks:
                assert (got[red == src] == dst).all()
        assert max(int(k) for k in json.load(open(os.path.join(root, 'samples_with_class.json')))) \
            < num_classes


def test_cityscapes_19_and_16_coexist(tmp_path):
    root = write_cityscapes_release(tmp_path / 'cs', cities={'train': ['aachen', 'bochum'],
                                                             'val': ['frankfurt']},
                                    n_per_city=2, size=SIZE)
    out19 = convert('cityscapes', root, nproc=1)
    out16 = convert('cityscapes', root, num_classes=16, nproc=1)
    assert len(out19) == len(out16) == 6
    for p19, p16 in zip(out19, out16):
        assert p19.endswith('_gtFine_labelTrainIds.png')
        assert p16.endswith('_gtFine_labelTrainIds16.png')
        ids = np.array(Image.open(p19.replace('labelTrainIds', 'labelIds')))
        g19, g16 = read(p19), read(p16)
        np.testing.assert_array_equal(g19, expected(ids, CITYSCAPES_ID_TO_TRAINID_19))
        np.testing.assert_array_equal(g16, expected(ids, CITYSCAPES_ID_TO_TRAINID_16))
        for src in (0, 1, 4, 34):
            assert (g19[ids == src] == 255).all() and (g16[ids == src] == 255).all()
        for src, d19, d16 in ((7, 0, 0), (22, 9, 255), (23, 10, 9), (27, 14, 255), (31, 16, 255),
                              (33, 18, 15)):
            assert (g19[ids == src] == d19).all() and (g16[ids == src] == d16).all()
    # stats describe the train split of the last run (16 classes)
    stats, with_class = load_class_stats(root)
    assert [e['file'] for e in stats] == sorted(
        os.path.relpath(p, root) for p in out16 if '/train/' in p)
    assert max(with_class) < 16


# ----------------------------------------------------------------------------- stats


def test_class_stats_contents(tmp_path):
    root = write_gta5_release(tmp_path / 'gta5', n=3, size=SIZE)
    convert('gta5', root, nproc=1)
    raw = json.load(open(os.path.join(root, 'sample_class_stats.json')))
    stats, with_class = load_class_stats(root)
    assert [e['file'] for e in raw] == [f'labels/0000{i}_labelTrainIds.png' for i in (1, 2, 3)]
    for i, (r, e) in enumerate(zip(raw, stats), 1):
        lab = expected(fixture_ids(i, SIZE, 40), CITYSCAPES_ID_TO_TRAINID_19)
        counts = np.bincount(lab[lab != 255], minlength=19)
        assert r == {'file': r['file'], **{str(c): int(counts[c]) for c in np.flatnonzero(counts)}}
        assert e == {'file': r['file'], **{int(c): int(counts[c]) for c in np.flatnonzero(counts)}}
    raw_with = json.load(open(os.path.join(root, 'samples_with_class.json')))
    assert list(raw_with) == sorted(raw_with, key=int)
    for c, files in with_class.items():
        assert files == [[e['file'], e[c]] for e in stats if c in e]
    assert set(with_class) == set(range(19))


def test_load_class_stats_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match='sample_class_stats.json'):
        load_class_stats(str(tmp_path))


# ----------------------------------------------------------------------------- rerun / parallel


def test_rerun_is_safe(tmp_path):
    root = write_synthia_release(tmp_path / 'synthia', n=3, size=SIZE)
    outs = convert('synthia', root, nproc=1)
    before = {p: (open(p, 'rb').read(), os.stat(p).st_mtime_ns) for p in outputs(root)}
    assert convert('synthia', root, nproc=2) == outs
    after = {p: (open(p, 'rb').read(), os.stat(p).st_mtime_ns) for p in outputs(root)}
    assert {p: v[0] for p, v in after.items()} == {p: v[0] for p, v in before.items()}
    assert all(after[p][1] == before[p][1] for p in outs)  # identical labels left untouched
    assert not [p for p in outputs(root) if os.path.basename(p).startswith('.')]
    # a damaged output is rewritten
    Image.fromarray(np.zeros(SIZE, np.uint8), 'L').save(outs[1])
    convert('synthia', root, nproc=1)
    assert open(outs[1], 'rb').read() == before[outs[1]][0]


@pytest.mark.parametrize('dataset,writer', [('gta5', write_gta5_release),
                                            ('synthia', write_synthia_release),
                                            ('cityscapes', write_cityscapes_release)])
def test_parallel_equals_serial(tmp_path, dataset, writer):
    serial = writer(tmp_path / 'a', size=SIZE)
    parallel = str(tmp_path / 'b')
    shutil.copytree(serial, parallel)
    convert(dataset, serial, nproc=1)
    convert(dataset, parallel, nproc=2)
    a, b = outputs(serial), outputs(parallel)
    assert [os.path.relpath(p, serial) for p in a] == [os.path.relpath(p, parallel) for p in b]
    assert all(filecmp.cmp(p, q, shallow=False) for p, q in zip(a, b))


# ----------------------------------------------------------------------------- errors


def _break_gta5_mode(root):
    p = os.path.join(root, 'labels', '00002.png')
    Image.open(p).convert('RGB').save(p)
    return p


def _break_gta5_pair(root):
    p = os.path.join(root, 'labels', '00004.png')
    shutil.copy(os.path.join(root, 'labels', '00001.png'), p)
    return p


def _break_gta5_image(root):
    p = os.path.join(root, 'images', '00009.png')
    shutil.copy(os.path.join(root, 'images', '00001.png'), p)
    return p


def _break_gta5_empty(root):
    for p in glob.glob(os.path.join(root, 'labels', '*.png')):
        os.remove(p)
    return os.path.join(root, 'labels')


def _break_gta5_dirs(root):
    shutil.rmtree(os.path.join(root, 'labels'))
    return 'labels/'


def _break_synthia_dirs(root):
    shutil.rmtree(os.path.join(root, 'GT'))
    return 'GT/LABELS/'


def _break_synthia_mode(root):
    p = os.path.join(root, 'GT', 'LABELS', '0000001.png')
    Image.fromarray(np.zeros(SIZE, np.uint8), 'L').save(p)
    return p


def _break_cityscapes_dirs(root):
    shutil.rmtree(os.path.join(root, 'leftImg8bit'))
    return 'leftImg8bit/'


def _break_cityscapes_pair(root):
    p = glob.glob(os.path.join(root, 'leftImg8bit', 'val', '*', '*_leftImg8bit.png'))[0]
    os.remove(p.replace('leftImg8bit', 'gtFine').replace('_gtFine.png', '_gtFine_labelIds.png'))
    return os.path.basename(p)


def _break_missing_root(root):
    shutil.rmtree(root)
    return str(root)


@pytest.mark.parametrize('dataset,writer,breaker', [
    ('gta5', write_gta5_release, _break_gta5_mode),
    ('gta5', write_gta5_release, _break_gta5_pair),
    ('gta5', write_gta5_release, _break_gta5_image),
    ('gta5', write_gta5_release, _break_gta5_empty),
    ('gta5', write_gta5_release, _break_gta5_dirs),
    ('gta5', write_gta5_release, _break_missing_root),
    ('synthia', write_synthia_release, _break_synthia_dirs),
    ('synthia', write_synthia_release, _break_synthia_mode),
    ('cityscapes', write_cityscapes_release, _break_cityscapes_dirs),
    ('cityscapes', write_cityscapes_release, _break_cityscapes_pair),
])
def test_bad_release(tmp_path, capsys, dataset, writer, breaker):
    root = writer(tmp_path / dataset, size=SIZE)
    named = breaker(root)
    with pytest.raises(ConversionError) as err:
        convert(dataset, root, nproc=2)
    msg = str(err.value)
    assert named in msg and '\n' not in msg
    with pytest.raises(SystemExit) as exit_:
        main([dataset, root, '--nproc', '1'])
    assert exit_.value.code == 2
    stderr = capsys.readouterr().err
    assert stderr.startswith('error: ') and named in stderr
    if os.path.isdir(root):
        assert outputs(root) == []


def test_bad_num_classes(tmp_path, capsys):
    root = write_gta5_release(tmp_path / 'gta5', n=1, size=SIZE)
    with pytest.raises(SystemExit) as exit_:
        main(['gta5', root, '--num-classes', '16'])
    assert exit_.value.code == 2 and '--num-classes 19' in capsys.readouterr().err
    assert outputs(root) == []


def test_cli_module(tmp_path):
    """`python -m` entry point end to end."""
    root = write_gta5_release(tmp_path / 'gta5', n=2, size=SIZE)
    run = subprocess.run([sys.executable, '-m', 'mmseg_ext.tools.convert_datasets', 'gta5', root,
                          '--nproc', '1'], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert os.path.isfile(os.path.join(root, 'labels', '00002_labelTrainIds.png'))
    assert os.path.isfile(os.path.join(root, 'samples_with_class.json'))


def test_help_describes_formats(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(['--help'])
    help_ = capsys.readouterr().out
    assert exit_.value.code == 0
    for text in ('GT/LABELS', 'labelTrainIds16', 'sample_class_stats.json', 'exit status 2'):
        assert text in help_
