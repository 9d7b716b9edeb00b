"""The Qt side of the job mechanism, with small real job functions (no mocks of the mechanism)."""

import logging
import threading
import time

import pytest

from app.core.errors import UserError
from app.core.jobs import Job
from app.ui.jobs import JobManager


def stream_words(inputs, state):
    words = inputs.split()
    for i, word in enumerate(words):
        state.check()
        state.partial(word)
        state.progress((i + 1) / len(words), f"word {i + 1} of {len(words)}")
    return len(words)


def wait_until_cancelled(inputs, state):
    started = time.monotonic()
    inputs.set()
    while not state.cancelled:
        time.sleep(0.005)
        if time.monotonic() - started > 10:
            return "not cancelled"
    return "ignored"  # returning after cancel still counts as cancelled


def broken(inputs, state):
    raise UserError("That file is not a model Hearth can open.")


def buggy(inputs, state):
    return {}["missing"]


def record_thread(inputs, state):
    log, delay = inputs
    log.append(("start", threading.get_ident(), time.monotonic()))
    time.sleep(delay)
    log.append(("end", threading.get_ident(), time.monotonic()))
    return threading.get_ident()


@pytest.fixture
def manager(qtbot):
    m = JobManager()
    yield m
    m.shutdown(timeout_s=5)


def test_progress_and_partials_arrive_on_gui_thread_in_order(qtbot, manager):
    partials, progress, threads = [], [], set()
    main = threading.get_ident()
    handle = manager.submit(Job(stream_words, "one two three four five"))
    handle.sig_partial.connect(lambda v: (partials.append(v), threads.add(threading.get_ident())))
    handle.sig_progress.connect(lambda f, t: progress.append((f, t)))
    with qtbot.waitSignal(handle.sig_done, timeout=5000) as blocker:
        pass
    assert blocker.args == [5]
    assert partials == ["one", "two", "three", "four", "five"]
    assert progress[-1] == (1.0, "word 5 of 5")
    assert threads == {main}
    assert handle.status == "done"


def test_cancel_stops_a_running_job(qtbot, manager):
    started = threading.Event()
    handle = manager.submit(Job(wait_until_cancelled, started))
    assert started.wait(5)
    with qtbot.waitSignal(handle.sig_cancelled, timeout=5000):
        handle.cancel()
    assert handle.status == "cancelled"
    assert manager.active() == []


def test_user_error_is_readable_and_app_keeps_going(qtbot, manager):
    failed = []
    manager.sig_job_failed.connect(lambda h, msg: failed.append(msg))
    handle = manager.submit(Job(broken, name="Open model"))
    with qtbot.waitSignal(handle.sig_error, timeout=5000) as blocker:
        pass
    assert blocker.args == ["That file is not a model Hearth can open."]
    assert failed == ["That file is not a model Hearth can open."]
    # the mechanism still works afterwards
    again = manager.submit(Job(stream_words, "still alive"))
    with qtbot.waitSignal(again.sig_done, timeout=5000):
        pass


def test_bug_gives_readable_message_and_full_traceback_in_log(qtbot, manager, caplog):
    caplog.set_level(logging.ERROR)
    handle = manager.submit(Job(buggy, name="Buggy job"))
    with qtbot.waitSignal(handle.sig_error, timeout=5000) as blocker:
        pass
    assert blocker.args == ["KeyError: 'missing'"]
    assert "Traceback" in caplog.text and "buggy" in caplog.text


def test_same_resource_runs_one_after_another(qtbot, manager):
    log = []
    a = manager.submit(Job(record_thread, (log, 0.2), resource="chat-model"))
    b = manager.submit(Job(record_thread, (log, 0.05), resource="chat-model"))
    assert b.status == "queued"
    with qtbot.waitSignal(b.sig_done, timeout=5000):
        pass
    assert a.status == "done"
    assert [e[0] for e in log] == ["start", "end", "start", "end"]


def test_different_resources_run_at_the_same_time(qtbot, manager):
    log = []
    a = manager.submit(Job(record_thread, (log, 0.3), resource="chat-model"))
    b = manager.submit(Job(record_thread, (log, 0.3), resource="image-model"))
    with qtbot.waitSignals([a.sig_done, b.sig_done], timeout=5000):
        pass
    starts = [e for e in log if e[0] == "start"]
    ends = [e for e in log if e[0] == "end"]
    assert max(s[2] for s in starts) < min(e[2] for e in ends)  # both started before either ended


def test_cancel_a_queued_job_never_runs_it(qtbot, manager):
    log = []
    a = manager.submit(Job(record_thread, (log, 0.2), resource="r"))
    b = manager.submit(Job(record_thread, (log, 0.0), resource="r"))
    with qtbot.waitSignal(b.sig_cancelled, timeout=1000):
        b.cancel()
    with qtbot.waitSignal(a.sig_done, timeout=5000):
        pass
    assert len(log) == 2  # only a ran


def test_replace_cancels_the_previous_job_of_that_kind(qtbot, manager):
    started = threading.Event()
    first = manager.submit(Job(wait_until_cancelled, started), replace="search")
    assert started.wait(5)
    with qtbot.waitSignal(first.sig_cancelled, timeout=5000):
        second = manager.submit(Job(stream_words, "new query"), replace="search")
    qtbot.waitUntil(lambda: second.status == "done", timeout=5000)
    assert first.status == "cancelled"


def test_shutdown_cancels_running_jobs_quickly(qtbot):
    manager = JobManager()
    started = threading.Event()
    manager.submit(Job(wait_until_cancelled, started))
    assert started.wait(5)
    t0 = time.monotonic()
    assert manager.shutdown(timeout_s=2.5)
    assert time.monotonic() - t0 < 1.0
    late = manager.submit(Job(stream_words, "too late"))
    assert late.status == "cancelled"
