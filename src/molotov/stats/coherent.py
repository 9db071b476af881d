"""A snapshot read while its processes wrote, made to agree with itself before it is a report.

The bus has no locks (see :mod:`molotov.stats.bus`): a record is several stores (the run's
request counter, then the name's, then its latency bucket...), and a reader between two of
them sees one without the other. Live, that is a count or two of noise. But when a live
snapshot is all that is left of a run (a cluster agent lost mid-run, a worker process killed
mid-record), it becomes a report, and a report must read back: its parts must add up to its
totals (:mod:`molotov.reports.jsonload`). :func:`coherent` settles each disagreement on the
finer-grained record (a histogram's buckets over a counter beside it, the names' rows over the
run's counter), so every number moves by at most the records that were in flight.
"""

from __future__ import annotations

import dataclasses

from molotov.stats.snapshot import CheckStats, RequestStats, ScenarioStats, Snapshot


def _scenario(stats: ScenarioStats) -> ScenarioStats:
    """Successes and failures that add up to the steps the durations histogram holds."""
    steps = stats.durations.count
    if stats.successes + stats.failures == steps:
        return stats
    failures = min(stats.failures, steps)
    return dataclasses.replace(stats, successes=steps - failures, failures=failures)


def _request(stats: RequestStats) -> RequestStats:
    """A name's requests within what its latency histogram and errors allow: from its
    responses (each in the histogram) to its responses plus its errors (a response whose
    body broke is both, see RequestStats)."""
    if stats.latency is None:
        return stats
    low, high = max(stats.latency.count, stats.errors), stats.latency.count + stats.errors
    if low <= stats.requests <= high:
        return stats
    return dataclasses.replace(stats, requests=min(max(stats.requests, low), high))


def _checks(snapshot: Snapshot) -> tuple[int, int, int]:
    """Passed, failed and dropped checks that add up to the table's rows plus the dropped."""
    checks: tuple[CheckStats, ...] = snapshot.checks
    passes = sum(c.passes for c in checks)
    failures = sum(c.failures for c in checks)
    dropped = snapshot.checks_passed + snapshot.checks_failed - passes - failures
    if dropped == snapshot.checks_dropped:
        return snapshot.checks_passed, snapshot.checks_failed, dropped
    # The rows are the finer record; the totals' excess over them, if any, is what the table
    # had no room for, its failures as many as the failed total has beyond the rows'.
    extra = max(0, min(dropped, snapshot.checks_dropped))
    failed_extra = max(0, min(extra, snapshot.checks_failed - failures))
    return passes + extra - failed_extra, failures + failed_extra, extra


def coherent(snapshot: Snapshot) -> Snapshot:
    """``snapshot`` with its totals agreeing with their parts (itself when they did)."""
    by_request = tuple(_request(r) for r in snapshot.by_request)
    # Every request is counted under its name: the names are the record of the run's. Not
    # every request error: a body that broke with no request known to its task is the
    # run's only, so the run's count of a kind is only raised to its names' (read later).
    errors_by_kind = tuple(
        max(run, sum(r.errors_by_kind[kind] for r in by_request))
        for kind, run in enumerate(snapshot.request_errors_by_kind)
    )
    passed, failed, dropped = _checks(snapshot)
    scenarios = snapshot.scenarios
    if snapshot.scenario_histograms:  # else a tick's: its scenarios' counts have no histogram
        scenarios = tuple(_scenario(s) for s in scenarios)
    return dataclasses.replace(
        snapshot,
        scenarios=scenarios,
        by_request=by_request,
        requests=sum(r.requests for r in by_request),
        request_errors_by_kind=errors_by_kind,
        checks_passed=passed,
        checks_failed=failed,
        checks_dropped=dropped,
    )
