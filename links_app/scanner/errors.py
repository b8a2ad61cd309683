"""The single exception type for URLs the scanner refuses to handle."""


class InvalidURL(ValueError):
    """Raised for any input that is not a usable http(s) URL.

    ``str(exc)`` is a human-readable sentence meant for the API's 400 answer.
    """
