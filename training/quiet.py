"""Silence the libraries' own tqdm bars while this package loads or saves: the pipeline draws its own."""

import contextlib


@contextlib.contextmanager
def library_bars_off():
    """Disable transformers' and diffusers' progress bars inside the block, then restore their state."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    was = (transformers_logging.is_progress_bar_enabled(), diffusers_logging.is_progress_bar_enabled())
    transformers_logging.disable_progress_bar()
    diffusers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was[0]:
            transformers_logging.enable_progress_bar()
        if was[1]:
            diffusers_logging.enable_progress_bar()
