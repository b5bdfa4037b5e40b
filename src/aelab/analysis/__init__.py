"""Analyses of trained runs used by the experiments (`resampling`); the evaluation tasks of
aelab-eval are in `aelab.eval`, their maths in `aelab.metrics`."""
