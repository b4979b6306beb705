"""Building blocks for fixtures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")


def factory_fixture(build: Callable[..., T], release: Callable[[T], object]) -> Iterator:
    """The body of a factory fixture (`yield from factory_fixture(...)`): the test gets `build`,
    and everything it built is released after the test, in order."""
    made: list[T] = []

    def make(*args, **kwargs) -> T:
        thing = build(*args, **kwargs)
        made.append(thing)
        return thing

    yield make
    for thing in made:
        release(thing)
