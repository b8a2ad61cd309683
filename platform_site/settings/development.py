"""Development settings: base.py's defaults (DEBUG on, public keys, local services).

Chosen explicitly by the development commands (Makefile, Procfile); entry
points started without DJANGO_SETTINGS_MODULE use production instead.
"""

from .base import *  # noqa: F403
