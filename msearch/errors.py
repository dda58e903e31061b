"""The typed errors msearch raises.

Every failure that crosses msearch's public surface is one of these, so callers can catch
``MSearchError`` and know they caught only msearch's own problems.
"""

from __future__ import annotations


class MSearchError(Exception):
    """Base class of every error msearch raises on purpose."""


class MissingDependencyError(MSearchError, ImportError):
    """An optional library is needed for the feature in use; the message names the extra."""


class ModelNotFoundError(MSearchError, FileNotFoundError):
    """A model name or folder could not be found locally (or on a hub, where one is reachable)."""


class InvalidInputError(MSearchError, ValueError):
    """The caller's input is not something msearch can work with; the message says which item."""


class InvalidTypeError(InvalidInputError, TypeError):
    """An argument is of the wrong type (a number where texts go ...); the message names it."""


class MediaError(InvalidInputError):
    """An image or audio item could not be read or decoded; the message names the item."""


class BackendError(MSearchError, RuntimeError):
    """A backend failed while computing vectors or scores."""


class BackendTimeoutError(BackendError, TimeoutError):
    """A backend call did not finish within its timeout."""


class ServerConnectionError(BackendError, ConnectionError):
    """A model server could not be reached (after the allowed retries)."""


class StoreError(MSearchError):
    """The vector store refused an operation or failed."""


class StoreLockedError(StoreError):
    """An embedded store folder is already open in another process."""


class SchemaMismatchError(StoreError, ValueError):
    """Vectors or a collection do not match the schema they are written into."""


class FileReadError(InvalidInputError):
    """A file could not be read as what its name says it is; the message names the file."""


class UnsafeModelError(MSearchError):
    """A model's weights exist only as pickles (loading one can run code) and were refused."""
