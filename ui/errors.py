"""The library's errors as messages on the page."""
from __future__ import annotations

import functools
import logging

import gradio as gr

from i2i import hub
from i2i.checkpoint import CheckpointError
from i2i.config import ConfigError
from i2i.data import DataError
from i2i.images import ImageError
from i2i.infer import LatentError
from i2i.studio import PathError

log = logging.getLogger("i2i.app")


def user_errors(fn):
    """Turn the library's errors into messages in the UI (never a stack trace), keep serving."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (ImageError, LatentError, CheckpointError, DataError, PathError, ConfigError, hub.HubError) as e:
            raise gr.Error(str(e)) from None
        except (ValueError, RuntimeError, OSError) as e:
            log.exception("request failed")
            raise gr.Error(f"{type(e).__name__}: {e}") from None
    return wrapper
