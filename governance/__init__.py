"""Dataset governance: every input record ends in exactly one recorded decision."""
