"""The torch-free ground floor of adasweep, below both `mmseg_ext` and `sweeps`: durable atomic
writes (`fileio`), the benchmarks' class names, palettes and label-id tables (`classes`) and the
test-only fault injection (`testing`). Standard library and numpy only, and nothing here imports
another package of the project.

It is a package of its own because importing any module of `mmseg_ext` runs
`mmseg_ext/__init__.py`, which imports torch and mmseg to register every component (configs load
the package with `custom_imports=['mmseg_ext']`); the results layer and the table / report CLIs
of `sweeps` import these modules normally and stay torch-free (one module object per process).
"""
