"""Fine service: intake, fine policy, review queue, audit, ERAP export, web UI."""
