import os

from django.core.asgi import get_asgi_application

# Production unless told otherwise: a forgotten variable must not mean DEBUG and public keys.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings.production")
application = get_asgi_application()
