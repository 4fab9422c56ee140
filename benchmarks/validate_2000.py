"""Benchmark: how long `load_manifests` takes to validate 2,000 resources.

Generates 2,000 realistic resources (500 jobs with inline datafeeds, 400 data frame analytics
jobs, 300 filters, 300 calendars; templated ids and memory limits) in a temporary directory,
spread over 100 files, then times loading, rendering and validating them.

    python benchmarks/validate_2000.py [--runs 5] [--resources 2000]

Target: under 2 s per run on a CI machine.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from reconciler.manifest import load_manifests

JOB = """\
kind: AnomalyDetectionJob
id: "{{{{ prefix }}}}job-{n}"
state: opened
spec:
  description: Benchmark job {n}
  groups: [bench]
  analysis_config:
    bucket_span: 15m
    detectors:
      - function: mean
        field_name: amount
        by_field_name: user_id
        custom_rules:
          - scope: {{user_id: {{filter_id: "{{{{ prefix }}}}filter-{f}"}}}}
            conditions: [{{applies_to: actual, operator: lt, value: 10}}]
      - function: high_count
        partition_field_name: merchant
    influencers: [user_id, merchant]
  data_description: {{time_field: "@timestamp", time_format: epoch_ms}}
  analysis_limits: {{model_memory_limit: "{{{{ memory }}}}"}}
  model_plot_config: {{enabled: true, terms: user_id}}
datafeed:
  state: started
  spec:
    indices: ["transactions-{n}-*"]
    query: {{bool: {{must: [{{range: {{amount: {{gt: 0}}}}}}, {{term: {{status: ok}}}}]}}}}
    frequency: 5m
    query_delay: 30s
    scroll_size: 1000
"""

DFA = """\
kind: DataFrameAnalytics
id: "{{{{ prefix }}}}dfa-{n}"
state: started
spec:
  source: {{index: ["customers-{n}"], query: {{range: {{age: {{gte: 30}}}}}}}}
  dest: {{index: "results-{n}", results_field: ml}}
  analysis:
    classification: {{dependent_variable: churned, training_percent: 80}}
  analyzed_fields: {{includes: [spend, tickets, churned]}}
  model_memory_limit: 200mb
"""

FILTER = """\
kind: Filter
id: "{{{{ prefix }}}}filter-{n}"
spec: {{description: Filter {n}, items: [a{n}, b{n}, c{n}]}}
"""

CALENDAR = """\
kind: Calendar
id: "{{{{ prefix }}}}calendar-{n}"
spec:
  job_ids: [bench]
  events:
    - {{description: Sale {n}, start_time: "2024-11-29T00:00:00Z",
       end_time: "2024-11-30T00:00:00Z"}}
"""


def generate(root: Path, total: int) -> int:
    """Write `total` resources (a job with its datafeed counts as two) into 100 files."""
    jobs = total // 4  # each job brings a datafeed: half of the resources
    dfas = total // 5
    filters = calendars = (total - 2 * jobs - dfas) // 2
    documents = (
        [JOB.format(n=n, f=n % max(filters, 1)) for n in range(jobs)]
        + [DFA.format(n=n) for n in range(dfas)]
        + [FILTER.format(n=n) for n in range(filters)]
        + [CALENDAR.format(n=n) for n in range(calendars)]
    )
    per_file = max(len(documents) // 100, 1)
    for i in range(0, len(documents), per_file):
        (root / f"part-{i // per_file:03d}.yaml").write_text(
            "---\n".join(documents[i : i + per_file]), encoding="utf-8"
        )
    return 2 * jobs + dfas + filters + calendars


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--resources", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        expected = generate(root, args.resources)
        variables = {"prefix": "bench-", "memory": "100mb"}
        timings = []
        for _ in range(args.runs):
            start = time.perf_counter()
            manifests = load_manifests([root], variables=variables, environ={})
            timings.append(time.perf_counter() - start)
            assert len(manifests.resources) == expected, len(manifests.resources)
    print(
        f"validated {expected} resources in {len(manifests.files)} files: "
        f"best {min(timings):.3f}s, median {statistics.median(timings):.3f}s "
        f"over {args.runs} runs (target < 2s)"
    )


if __name__ == "__main__":
    main()
