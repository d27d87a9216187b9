"""What a mesh process's /metrics says, for tests and benchmarks that count through a service's own figures."""

import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def metric(mesh, service: str, name: str, **labels: str) -> float:
    """The sum of the samples `name` of `service` whose labels include `labels` (0 when none)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{mesh.metrics_port(service)}/metrics", timeout=10).read()
    return sum(s.value for f in text_string_to_metric_families(text.decode()) for s in f.samples
               if s.name == name and labels.items() <= s.labels.items())
