"""Reading a Prometheus text exposition in tests: every sample by name and labels."""

from collections.abc import Mapping

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(exposition: str) -> Samples:
    """Every sample of a `/metrics` answer, keyed by (sample name, labels)."""
    found: Samples = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 when there is none)."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in found.items() if n == name and wanted <= have)


def label_values(found: Samples, name: str, label: str) -> set[str]:
    """The values `label` takes among the samples of `name`."""
    return {dict(have)[label] for (n, have), _ in found.items() if n == name and label in dict(have)}


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def as_labels(mapping: Mapping[str, str]) -> frozenset[tuple[str, str]]:
    return frozenset(mapping.items())
