"""Violation rules behind one interface (`Rule.evaluate(observation) -> list[Candidate]`)."""
