.PHONY: bench
# The side-by-side load benchmark (bench/run.sh, docs/benchmarks.md).
bench:
	bench/run.sh
