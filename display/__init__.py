"""The lobby display: the calling screen and the voice."""
