"""Detector plugins behind one interface (`Detector.detect_batch(images) -> list[Detections]`)."""
