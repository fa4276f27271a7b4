"""The floor: the benchmark's workloads with no gateway logic, served by the same server (see
bench/floor/app.py)."""
