"""Reading a /metrics exposition in tests: families by name, series by labels."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


@dataclass
class Exposition:
    """A parsed exposition, keyed by family name (as the parser names them)."""

    text: str

    def __post_init__(self) -> None:
        self.families = {f.name: f for f in text_string_to_metric_families(self.text)}

    def type_of(self, family: str) -> str:
        """The declared type of a family."""
        return self.families[family].type

    def samples(self, name: str, /, **labels: str) -> list[Sample]:
        """Samples named ``name`` (sample name, e.g. with ``_total``) whose labels match."""
        return [
            s
            for f in self.families.values()
            for s in f.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        ]

    def one(self, name: str, /, **labels: str) -> Sample:
        """The single sample of ``name`` with these labels."""
        found = self.samples(name, **labels)
        assert len(found) == 1, (name, labels, found)
        return found[0]

    def value(self, name: str, /, **labels: str) -> float:
        """The value of the single sample of ``name`` with these labels."""
        return self.one(name, **labels).value
