"""Model cards that disclose the data, the compute, the audits and their verdicts."""
