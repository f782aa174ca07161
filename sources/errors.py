"""Typed errors of the sources, all under ValueError (as ofxtools does).

Tolerance policy: a source *warns* (ParseResult.warnings) on what is harmless, such as an unknown
extra column or a trailing blank line; it *raises* MalformedFile when something required is missing
or unreadable (no header, an undecodable encoding). A single bad row is not a file error: the row is
emitted as it is and the data contract quarantines it with its reason.
"""


class SourceError(ValueError):
    """Base of every error a source raises."""


class UnrecognizedFile(SourceError):
    """No registered source claims the file."""


class AmbiguousFile(SourceError):
    """More than one source claims the file; first-wins would be a guess."""


class UnknownSource(SourceError):
    """A source name given with --source is not registered."""


class MalformedFile(SourceError):
    """The file belongs to a source's format but cannot be read as a whole."""
