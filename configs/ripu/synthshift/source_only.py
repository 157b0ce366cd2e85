# Source only on SynthShift: no target labels.
_base_ = ['../../synthshift/source_only.py']
