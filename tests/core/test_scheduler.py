"""The core job runner with small real jobs on real threads: per-resource order, side-by-side resources, cancel,
futures, shutdown."""

import threading
import time
from concurrent.futures import wait

import pytest

from app.core.errors import JobCancelled, UserError
from app.core.jobs import Job, JobState
from app.core.scheduler import CANCELLED, DONE, FAILED, QUEUED, RUNNING, Scheduler


def record(inputs, state):
    log, name, delay = inputs
    log.append(("start", name, time.monotonic()))
    time.sleep(delay)
    log.append(("end", name, time.monotonic()))
    return name


def until_cancelled(started, state):
    started.set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        state.check()
        time.sleep(0.005)
    return "never cancelled"


@pytest.fixture
def scheduler():
    s = Scheduler(max_workers=3, idle_s=1.0)
    yield s
    s.shutdown(5)


def test_same_resource_runs_one_at_a_time_in_submission_order(scheduler):
    log = []
    tickets = [scheduler.submit(Job(record, (log, i, 0.01), resource="chat-model")) for i in range(6)]
    assert [t.status for t in tickets] == [RUNNING] + [QUEUED] * 5
    wait([t.future for t in tickets], timeout=10)
    assert [e[0] for e in log] == ["start", "end"] * 6
    assert [e[1] for e in log if e[0] == "start"] == list(range(6))


def test_submitting_from_many_threads_never_overlaps_a_resource(scheduler):
    log, tickets, lock = [], [], threading.Lock()

    def submit(i):
        ticket = scheduler.submit(Job(record, (log, i, 0.01), resource="chat-model"))
        with lock:
            tickets.append(ticket)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wait([t.future for t in tickets], timeout=10)
    assert all(t.status == DONE for t in tickets) and len(tickets) == 8
    assert [e[0] for e in log] == ["start", "end"] * 8


def test_different_resources_run_side_by_side(scheduler):
    log = []
    a = scheduler.submit(Job(record, (log, "a", 0.3), resource="chat-model"))
    b = scheduler.submit(Job(record, (log, "b", 0.3), resource="image-model"))
    assert a.future.result(5) == "a" and b.future.result(5) == "b"
    starts = [e[2] for e in log if e[0] == "start"]
    ends = [e[2] for e in log if e[0] == "end"]
    assert max(starts) < min(ends)


def test_queued_ticket_cancelled_never_runs_and_its_future_says_so(scheduler):
    started = threading.Event()
    running = scheduler.submit(Job(until_cancelled, started, resource="r"))
    assert started.wait(5)
    log = []
    queued = scheduler.submit(Job(record, (log, "q", 0), resource="r"))
    assert queued.status == QUEUED and running.status == RUNNING
    finished = []
    queued._on_finish = finished.append
    queued.cancel()
    assert queued.status == CANCELLED and finished == [queued]  # at once, on this thread
    with pytest.raises(JobCancelled):
        queued.future.result(0)
    running.cancel()
    with pytest.raises(JobCancelled):
        running.future.result(5)
    assert log == [] and scheduler.active() == []


def test_failure_gives_the_exception_and_a_readable_message(scheduler):
    def broken(_inputs, _state):
        raise UserError("That file is not a model Hearth can open.")

    ticket = scheduler.submit(Job(broken))
    with pytest.raises(UserError):
        ticket.future.result(5)
    assert ticket.status == FAILED and ticket.error == "That file is not a model Hearth can open."
    # the resource is free again
    assert scheduler.submit(Job(lambda i, s: i * 2, 21, resource="x")).future.result(5) == 42


def test_partials_reach_the_state_and_callbacks_run_on_the_worker(scheduler):
    seen, threads = [], []

    def stream(words, state):
        for word in words:
            state.partial(word)
        return len(words)

    ticket = scheduler.submit(Job(stream, ["a", "b", "c"]), JobState(on_partial=seen.append),
                              on_start=lambda t: threads.append(threading.get_ident()))
    assert ticket.future.result(5) == 3 and seen == ["a", "b", "c"]
    assert threads and threads[0] != threading.get_ident()


def test_shutdown_cancels_running_and_refuses_new_jobs():
    scheduler = Scheduler(max_workers=2)
    started = threading.Event()
    running = scheduler.submit(Job(until_cancelled, started))
    assert started.wait(5)
    t0 = time.monotonic()
    assert scheduler.shutdown(2.5)
    assert time.monotonic() - t0 < 1.0 and running.status == CANCELLED
    late = scheduler.submit(Job(record, ([], "late", 0)))
    assert late.status == CANCELLED


def test_idle_workers_end_and_new_ones_start_when_needed():
    scheduler = Scheduler(max_workers=2, idle_s=0.2)
    assert scheduler.submit(Job(lambda i, s: 1)).future.result(5) == 1
    deadline = time.monotonic() + 5
    while scheduler._workers and time.monotonic() < deadline:
        time.sleep(0.05)
    assert scheduler._workers == 0
    assert scheduler.submit(Job(lambda i, s: 2)).future.result(5) == 2
    scheduler.shutdown(1)
