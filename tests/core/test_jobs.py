import io

import pytest

from app.core.errors import JobCancelled, UserError
from app.core.jobs import ConsoleState, Job, JobState, describe_error, run_sync


def count_to(inputs, state):
    out = []
    for i in range(inputs):
        state.check()
        state.progress((i + 1) / inputs, f"step {i + 1}")
        state.partial(i)
        out.append(i)
    return out


def test_run_sync_reports_progress_and_partials():
    seen, parts = [], []
    state = JobState(on_progress=lambda f, t: seen.append((f, t)), on_partial=parts.append)
    assert run_sync(Job(count_to, 4), state) == [0, 1, 2, 3]
    assert seen[-1] == (1.0, "step 4")
    assert parts == [0, 1, 2, 3]


def test_cancelled_state_stops_job():
    state = JobState()
    state.cancel()
    with pytest.raises(JobCancelled):
        run_sync(Job(count_to, 3), state)


def test_progress_is_clamped():
    state = JobState()
    state.progress(1.7, "x")
    assert state.fraction == 1.0
    state.progress(None, "unknown")
    assert state.fraction is None


def test_console_state_prints_progress_to_its_stream():
    stream = io.StringIO()
    parts = []
    state = ConsoleState(on_partial=parts.append, stream=stream)
    run_sync(Job(count_to, 3), state)
    assert "100.0%" in stream.getvalue()
    assert parts == [0, 1, 2]


def test_describe_error_is_readable():
    assert describe_error(UserError("The file is not a GGUF model.")) == "The file is not a GGUF model."
    assert describe_error(ValueError("bad")) == "ValueError: bad"
    assert describe_error(RuntimeError()) == "RuntimeError: no details"


def test_job_name_defaults_to_function_name():
    assert Job(count_to).name == "count to"
