"""A sweep's report: one self-contained HTML page (CSS inline, images as PNG data URIs, no
JavaScript, nothing fetched), readable offline.

    python sweeps/report.py NAME [--storage results] --out report.html [--against VARIANT]
        [--images 4]

NAME is a sweep under --storage or a path to a sweep folder (as for tables.py). The page shows:
the space's description, the command(s) that ran it (history.jsonl), git revision, machine,
dates, total and per-trial time; the space's paper table (sweeps.tables.build_table with the
space's default table) and the paired comparison against the random baseline (--table compare);
the budget curves with their seed spread; a per-class IoU heatmap; the selections of the best
and the worst variant over a few target images (mmseg_ext.tools.show_selection); the errored
trials with their reasons. Bad input (no such sweep, unreadable results, --out in a folder that
does not exist, an --against the sweep lacks) is one `error:` line, exit 2, and nothing written.
"""
import argparse
import os
import os.path as osp
import sys
import tempfile
from datetime import datetime, timezone

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from adasweep_base.fileio import atomic_write  # noqa: E402
from sweeps import tables  # noqa: E402
from sweeps.common import mask_secrets  # noqa: E402
from sweeps.storage import Storage, is_uri  # noqa: E402
from sweeps.report_html import CSS, esc, when  # noqa: E402
from sweeps.report_sections import (section_curves, section_errors,  # noqa: E402
                                    section_heatmap, section_overview, section_selections,
                                    section_tables)
from sweeps.report_sweep import ReportError, Sweep  # noqa: E402


# what the report reads of a sweep on an object store (fetched into a temp folder first)
RECORDS = ('results.parquet', 'trials', 'sweep.json', 'plan.json', 'history.jsonl',
           'space.json', 'configs.json')


def fetch_records(store, dest):
    """The report's records of the sweep at `store` (an object store) and the warmup.json of
    the warm-ups beside it, copied into `dest`/<name>; returns that folder."""
    folder = osp.join(dest, store.root.rstrip('/').rsplit('/', 1)[-1])
    store.download_tree('', folder, keep=lambda n: n.split('/')[0] in RECORDS)
    store.parent().download_tree('.warmup', osp.join(dest, '.warmup'),
                                 keep=lambda n: n.endswith('/warmup.json'))
    return folder


def build_report(name, storage='results', against=None, images=4):
    """The report of sweep `name` as one HTML string. Bad input -> FileNotFoundError /
    ValueError (ReportError) with a one-line message, before anything is drawn."""
    where = tables.resolve(name, storage)
    if isinstance(where, Storage) and not where.local:
        with tempfile.TemporaryDirectory(prefix='adasweep_fetch_') as tmp:
            if not where.is_dir():
                raise FileNotFoundError(f'no sweep results at {where}')
            return _build(Sweep(fetch_records(where, tmp)), where.shown(), against, images)
    sw = Sweep(name, storage)
    return _build(sw, osp.abspath(sw.dir), against, images)


def _build(sw, source, against, images):
    if against is not None and against not in sw.known_variants():
        raise ReportError(f'--against {against!r}: the sweep has no such variant (variants: '
                          f'{", ".join(map(str, sw.known_variants()))})')
    if images < 1:
        raise ReportError(f'--images {images}: expected a positive number of images')
    trials = sw.trials()
    with tempfile.TemporaryDirectory(prefix='adasweep_report_') as tmp:
        body = [
            f'<h1>Sweep {esc(sw.title)}</h1>',
            f'<p class="sub">adasweep sweep report · made {esc(when(datetime.now(timezone.utc)))}'
            f' from <code>{esc(source)}</code></p>',
            '<h2 id="overview">Overview</h2>', section_overview(sw, trials),
            '<h2 id="tables">Tables</h2>', section_tables(sw, against),
            '<h2 id="curves">Budget curves</h2>', section_curves(sw, tmp),
            '<h2 id="per-class">Per-class IoU</h2>', section_heatmap(sw, tmp),
            '<h2 id="selections">Selections of the best and the worst variant</h2>',
            section_selections(sw, tmp, images),
            '<h2 id="errors">Errored trials</h2>', section_errors(sw),
        ]
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>Sweep {esc(sw.title)}</title><link rel="icon" href="data:,">'
            f'<style>{CSS}</style></head>\n<body>\n' + '\n'.join(body) + '\n</body></html>\n')


def check_out(out):
    """--out must name a file in a folder that exists (and is writable), or an object in a
    bucket that exists (an object-store URI)."""
    if is_uri(out):
        try:
            return Storage(out).check()
        except ValueError as e:
            raise ReportError(str(e).replace('--storage', '--out', 1)) from None
    try:
        return tables.check_out('--out', out, 'an .html file to write')
    except ValueError as e:
        raise ReportError(str(e)) from None


def write_report(text, out):
    """Write atomically and durably (adasweep_base.fileio.atomic_write), with the permissions
    open() would have given it (not the temp file's 0600)."""
    path = check_out(out)
    if isinstance(path, Storage):  # one whole-object PUT
        path.write_text('', text)
        return path.shown()
    umask = os.umask(0)
    os.umask(umask)

    def write(tmp):
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~umask)
    atomic_write(path, write)
    return path


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='One self-contained HTML report of a sweep')
    p.add_argument('name', help='sweep name under --storage, or a sweep folder path')
    p.add_argument('--storage', default='results',
                   help='sweep storage: a folder (default: results) or an object-store URI '
                   '(s3://bucket/prefix[?endpoint_override=HOST:PORT&scheme=http])')
    p.add_argument('--out', required=True, help='the HTML file to write (a path or a URI)')
    p.add_argument('--against', metavar='VARIANT',
                   help='reference of the paired comparison (default: the random baseline, '
                        'the first variant named rand*)')
    p.add_argument('--images', type=int, default=4,
                   help='target images per selection drawing (default: 4)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        check_out(args.out)
        text = build_report(args.name, args.storage, args.against, args.images)
        path = write_report(text, args.out)
    except (FileNotFoundError, ValueError, OSError) as e:
        print(' '.join(f'error: {mask_secrets(str(e))}'.split()), file=sys.stderr)
        return 2
    print(f'wrote {path} ({len(text) / 1024:.0f} KiB)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
