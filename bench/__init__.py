"""The Coldstart benchmark (``make bench``): not a test, a measurement. See docs/benchmarks.md."""
