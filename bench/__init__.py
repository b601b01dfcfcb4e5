"""Benchmark: what a full build and a one-day increment cost as data grows, stage by stage.

`make bench SF=1` or `retention bench --sf 1`; see bench/harness.py and bench/results/README.md.
"""
