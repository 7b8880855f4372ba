"""Time-budgeted text-to-image diffusion training on the governed dataset."""
