"""Train one model from an mmengine config, as mmsegmentation's tools/train.py.

    python tools/train.py configs/source_only/synthshift.py [--work-dir DIR] [--resume]
        [--cfg-options key=value ...]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmseg_ext  # noqa: E402,F401  (compat before mmengine builds anything)
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from mmseg.registry import RUNNERS  # noqa: E402

from mmseg_ext.tools.moved_configs import exit_missing_config  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--resume', action='store_true',
                        help='resume from the newest checkpoint in the work_dir that loads '
                             '(whatever its last_checkpoint says; none: train from the start)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, xxx=yyy format (as in mmsegmentation)')
    return parser.parse_args(argv)


def build_config(args):
    if not osp.isfile(args.config):
        exit_missing_config(args.config)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.resume = bool(args.resume) or bool(cfg.get('resume'))
    return cfg


def main(argv=None):
    from mmseg_ext.engine import resolve_resume
    cfg = build_config(parse_args(argv))
    resolve_resume(cfg)
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    runner.train()


if __name__ == '__main__':
    main()
