"""Every change to collection cases, one function per business action (see each module)."""

from .attempts import *  # noqa: F403
from .cases import *  # noqa: F403
from .escalations import *  # noqa: F403
from .promises import *  # noqa: F403
