"""bonefrac: find bone fractures on radiographs, from labelled data to a hardened web service."""

__version__ = "0.1.0"
