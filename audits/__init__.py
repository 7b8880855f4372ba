"""Post-training audits: quality, bias, memorization and deepfake risk."""
