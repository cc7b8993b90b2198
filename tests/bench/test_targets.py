"""`--target` of the benchmarks (bench/targets.py): what it accepts, without starting
anything (the side-by-side runs themselves are in BENCHMARKS.md)."""

from __future__ import annotations

import pytest

from bench.targets import parse_targets


def test_the_default_is_the_dev_server_alone() -> None:
    assert parse_targets(None) == ("dev",)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("cluster", ("cluster",)),
        ("dev,cluster", ("dev", "cluster")),
        (" cluster , dev ", ("cluster", "dev")),
        ("temporal.example:7233", ("temporal.example:7233",)),
        ("dev,127.0.0.1:7233", ("dev", "127.0.0.1:7233")),
    ],
)
def test_targets_in_the_order_given(value: str, expected: tuple[str, ...]) -> None:
    assert parse_targets(value) == expected


def test_side_by_side_is_dev_then_cluster() -> None:
    assert parse_targets(None, side_by_side=True) == ("dev", "cluster")
    assert parse_targets("dev,cluster", side_by_side=True) == ("dev", "cluster")


@pytest.mark.parametrize("value", ["", "prod", "host:", ":7233", "dev,dev", "host:port"])
def test_anything_else_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="--target"):
        parse_targets(value)


def test_side_by_side_with_other_targets_is_refused() -> None:
    with pytest.raises(ValueError, match="--side-by-side"):
        parse_targets("cluster", side_by_side=True)
