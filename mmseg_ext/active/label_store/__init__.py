"""The active-label store: what has been bought, on disk, under a run's work_dir.

Layout of `root` (one entry per target image, named by the image's label path relative to the
dataset's label folder, `rel`):

    labels/<rel>          uint8 PNG: the bought ground truth and the pseudo labels, 255 = neither
                          (the training pipeline reads these, so data-loader workers see new
                          labels), with the image's round records in a private ancillary chunk
                          (`adSt`, before the pixel data; PNG readers skip it): per round that
                          touched the image, what it newly blocked, bought and pseudo-labelled
                          (a packed delta, `codec.pack_delta`). The image's state (bit 0 =
                          blocked, cannot be picked again; bit 1 = bought, oracle label; bit 2 =
                          pseudo label, the model's) is the union of its records.
    rounds/round_NNN.json per round: iteration, strategy, images, ledger rows, ledger_start (the
                          byte offset of its rows in ledger.jsonl), records (true: its deltas
                          are in the label files)
    rounds/round_NNN.npz  while round NNN is being committed: its deltas (all images), for
                          `recover()` to finish the commit; removed once it is done
    rounds/rollback.pending.json  while rounds are being undone: which (see `rollback`)
    ledger.jsonl          one row per (round, image): round, iteration, image, units, pixels,
                          void_pixels, classes {train id: pixels}, and pseudo_pixels for a round
                          that gave pseudo labels (POINT-ENT); the rows of the rounds in order
    index.json            the image list (rel, ground-truth path)

One file per image and round holds everything about it, so a round writes each image it touches
once, and undoing a round needs nothing but its images' files (the records say what each round
did; a round's records are dropped and its pixels cleared: the time grows with the images the
undone rounds touched, not with the store or the other rounds).

Rounds are committed in five steps (delta file, label files, round json, ledger rows, delta file
removed), every file written atomically and durably (`adasweep_base.fileio`; the label files of a
round as one batch: all written, made durable at once, renamed, their folders fsynced, before
the round json), so a crash at any point, the machine's death included, leaves a store that
`recover()` completes. Applying a round to a label file that has it already gives the same file,
so an interrupted batch is finished from the delta file. ledger.jsonl is created by an atomic
write and then appended to in place (each round's rows written once, at the offset its round
json records, and fsynced); `recover()` checks the last round's rows and rewrites them if a
crash cut them short. Rounds can be undone exactly (`rollback`), which is how a resumed run gets
back the labels it had at its checkpoint.

Stores of earlier versions (e371b40 and before: a `state/<rel>` PNG per image, round deltas in
`rounds/round_NNN.npz`, format 2 or ae49e50's int64 arrays) are read, resumed, rolled back and
extended: their state PNG is the base under the records new rounds add to the label files, and
their rounds are undone from their delta files (`files.py`).
"""
from .codec import (BLOCKED, BOUGHT, IGNORE, PSEUDO, encode_png as _encode_png,  # noqa: F401
                    pack_delta as _pack_delta, pack_runs as _pack_runs,
                    unpack_delta as _unpack_delta, unpack_runs as _unpack_runs)
from .store import ActiveLabelStore, _threads  # noqa: F401

__all__ = ['ActiveLabelStore', 'IGNORE', 'BLOCKED', 'BOUGHT', 'PSEUDO']
