# "Fully supervised" row of RIPU Table 3 on SynthShift: all labelled source and target images
# (the base dataset config's two-domain loader with the full target labels).
_base_ = ['../_base_/default_runtime.py', '../_base_/models/tiny_synthshift.py',
          '../_base_/datasets/synthshift.py', '../_base_/schedules/synthshift.py']
