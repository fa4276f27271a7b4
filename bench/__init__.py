"""Load benchmarks (not tests): the fixture, the DRF baseline and the runner."""
