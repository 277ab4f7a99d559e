"""Finished jobs keep their status, but only the newest ones keep their results in memory."""

from __future__ import annotations

import numpy as np

from deepstudio.engine.jobs import KEEP_RESULTS, JobManager


def test_old_results_are_released_when_new_jobs_start():
    manager = JobManager()
    try:
        jobs = []
        for k in range(KEEP_RESULTS + 3):
            job = manager.submit("test", f"job {k}", lambda report, k=k: np.full(1000, k))
            assert job.wait(timeout=30)[0] == k
            jobs.append(job)
        manager.submit("test", "one more", lambda report: None).wait(timeout=30)
        released, kept = jobs[:-KEEP_RESULTS], jobs[-KEEP_RESULTS:]  # the newest 8 stay
        assert all(j.result is None and j.wait() is None for j in released)
        assert all(j.status == "done" and j.log for j in released)
        assert [int(j.wait()[0]) for j in kept] == list(range(len(jobs) - len(kept), len(jobs)))
    finally:
        manager.shutdown()
