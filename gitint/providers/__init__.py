"""Git host providers, looked up by kind (the database value and the form choice)."""

from .base import HostSettings, Provider

REGISTRY: dict[str, type[Provider]] = {}


def register(*kinds: str):
    """Class decorator: make a provider class answer for these kinds."""

    def add(cls):
        for kind in kinds:
            REGISTRY[kind] = cls
        return cls

    return add


def make_provider(settings: HostSettings, secret: str, *, allow_private: bool = False) -> Provider:
    """The provider for ``settings.kind`` using ``secret`` as its credential."""
    _load()
    return REGISTRY[settings.kind](settings, secret, allow_private=allow_private)


def _load() -> None:
    from . import azure, codecommit, github, gitlab  # noqa: F401 - they register themselves
