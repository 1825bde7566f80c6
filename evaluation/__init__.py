"""Detection accuracy, event-level accuracy and throughput benchmarks."""
