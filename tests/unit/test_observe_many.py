"""``observe_many`` and its grouping helpers: one batch of amounts leaves a histogram exactly as
``observe`` per amount does (the same bucket counts, the same count, the same sum up to a float
sum's order), and ``inc_by_labels`` a counter as ``inc`` per label set does."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram

from sinks.prometheus.metrics import inc_by_labels, observe_by_labels, observe_many

pytestmark = pytest.mark.unit

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)

amounts = st.lists(
    st.one_of(
        st.floats(min_value=-5, max_value=100, allow_nan=False),
        st.sampled_from([0.0, *BUCKETS, math.inf]),  # the bounds themselves: `amount <= bound`
    ),
    max_size=200,
)


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for metric in registry.collect()
        for s in metric.samples
        if not s.name.endswith("_created")
    }


def _pair(labelled: bool) -> tuple[CollectorRegistry, Histogram, CollectorRegistry, Histogram]:
    one, many = CollectorRegistry(), CollectorRegistry()
    labels = ["queue"] if labelled else []
    h1 = Histogram("wait_seconds", "w", labels, buckets=BUCKETS, registry=one)
    h2 = Histogram("wait_seconds", "w", labels, buckets=BUCKETS, registry=many)
    return one, h1, many, h2


def _assert_same(one: CollectorRegistry, many: CollectorRegistry) -> None:
    a, b = _samples(one), _samples(many)
    assert a.keys() == b.keys()
    for key, value in a.items():
        if key[0].endswith("_sum"):
            assert b[key] == pytest.approx(value, rel=1e-9, abs=1e-9) or (
                math.isinf(value) and b[key] == value
            )
        else:
            assert b[key] == value, key


@given(amounts)
def test_same_buckets_count_and_sum_as_observe_per_amount(values: list[float]) -> None:
    one, h1, many, h2 = _pair(labelled=False)
    for v in values:
        h1.observe(v)
    observe_many(h2, values)
    _assert_same(one, many)


@given(st.lists(st.tuples(st.sampled_from(["999", "101"]), st.floats(0, 90)), max_size=100))
def test_labelled_children_are_observed_apart(pairs: list[tuple[str, float]]) -> None:
    one, h1, many, h2 = _pair(labelled=True)
    grouped: dict[str, list[float]] = {}
    for queue, v in pairs:
        h1.labels(queue).observe(v)
        grouped.setdefault(queue, []).append(v)
    for queue, values in grouped.items():
        observe_many(h2.labels(queue), values)
    _assert_same(one, many)


def test_nan_counts_in_the_sum_and_no_bucket_as_observe_does() -> None:
    one, h1, many, h2 = _pair(labelled=False)
    h1.observe(float("nan"))
    h1.observe(0.2)
    observe_many(h2, [float("nan"), 0.2])
    a, b = _samples(one), _samples(many)
    assert {k: v for k, v in a.items() if not k[0].endswith("_sum")} == {
        k: v for k, v in b.items() if not k[0].endswith("_sum")
    }
    assert math.isnan(b[("wait_seconds_sum", ())])


def test_nothing_observed_leaves_the_histogram_untouched() -> None:
    one, _, many, h2 = _pair(labelled=False)
    observe_many(h2, [])
    assert _samples(one) == _samples(many)


def test_a_histogram_with_labels_must_be_given_a_child() -> None:
    _, _, _, h2 = _pair(labelled=True)
    with pytest.raises(ValueError):
        observe_many(h2, [1.0])


@given(st.lists(st.tuples(st.sampled_from(["999", "101", "webchat"]), st.floats(0, 90)), max_size=100))
def test_observe_by_labels_groups_as_observe_per_amount(pairs: list[tuple[str, float]]) -> None:
    one, h1, many, h2 = _pair(labelled=True)
    for queue, v in pairs:
        h1.labels(queue).observe(v)
    observe_by_labels(h2, (((queue,), v) for queue, v in pairs))
    _assert_same(one, many)


@given(st.lists(st.tuples(st.sampled_from(["999", "101"]), st.sampled_from(["a", "b", "c"])), max_size=100))
def test_inc_by_labels_counts_as_inc_per_labels(labels_each: list[tuple[str, str]]) -> None:
    one, many = CollectorRegistry(), CollectorRegistry()
    c1 = Counter("offered", "o", ["channel", "queue"], registry=one)
    c2 = Counter("offered", "o", ["channel", "queue"], registry=many)
    for labels in labels_each:
        c1.labels(*labels).inc()
    inc_by_labels(c2, labels_each)
    assert _samples(one) == _samples(many)
