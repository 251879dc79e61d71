"""Development on one machine (make run): debug pages on, everything else from base."""

from .base import *  # noqa: F401,F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
