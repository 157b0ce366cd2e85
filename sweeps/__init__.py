"""Ray Tune sweeps over the mmseg_ext methods: spaces, the results layer and the paper tables."""
