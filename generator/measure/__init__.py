"""Measurement: `diffgen bench`, its hand-written baselines, `diffgen tune`, the module loader."""
