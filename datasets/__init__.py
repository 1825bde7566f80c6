"""Dataset manifests, converters and annotated clips for evaluation."""
