"""Container logs read for log-pattern rules: following, fingerprints, notices, triage."""
