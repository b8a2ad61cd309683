"""What the links app refuses.

The API answers LinkNotFound with 404 and NotAModerator with 403 in one place
(platform_site/api_errors.py); InvalidURL becomes the 400 of a field.
"""


class InvalidURL(ValueError):
    """Raised for any input that is not a usable http(s) URL (the scanner's only error).

    ``str(exc)`` is a human-readable sentence meant for the API's 400 answer.
    """


class LinkNotFound(LookupError):
    """No link with that id (nothing was ever scanned under it)."""

    def __init__(self, link_id: object):
        self.link_id = link_id
        super().__init__("No such link.")


class NotAModerator(Exception):
    """Only moderators may judge a link by hand."""
