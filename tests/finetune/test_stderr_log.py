"""Fine-tuning progress on stderr: plain lines with steps, rate, the last logged loss and ETA."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from forgetlab.finetune.callbacks import StderrLog


def test_training_progress_is_plain_lines_in_a_log(capsys: pytest.CaptureFixture[str]) -> None:
    state = SimpleNamespace(is_world_process_zero=True, max_steps=10, global_step=0)
    cb = StderrLog()
    cb.on_train_begin(None, state, None)
    for step in range(1, 11):
        cb.on_step_begin(None, state, None)
        state.global_step = step
        cb.on_step_end(None, state, None)
        if step % 2 == 0:  # the Trainer logs after the step has ended
            cb.on_log(None, state, None, logs={"loss": 3.0 / step, "learning_rate": 1e-4})
    cb.on_log(None, state, None, logs={"train_runtime": 1.0})  # a summary, not a loss: ignored
    cb.on_train_end(None, state, None)
    lines = capsys.readouterr().err.splitlines()
    # 10 steps: every step is 10 % (over the 5 % threshold), so one line per step
    assert [re.match(r"forgetlab finetune: (\d+)/10 steps \(\d+%\)", x)[1] for x in lines] == [
        str(i) for i in range(1, 11)
    ]
    assert "\r" not in "".join(lines)
    assert "loss" not in lines[0] and "ETA" in lines[0]  # step 1: nothing logged yet
    for step in range(2, 11):  # each line shows the loss logged at its step or the one before
        assert f", loss={3.0 / (step - step % 2):.4f}, lr=1.00e-04, " in lines[step - 1]
    assert lines[-1].startswith("forgetlab finetune: 10/10 steps (100%), ")
    assert "elapsed" in lines[-1] and "ETA" not in lines[-1]  # the final line


def test_other_processes_show_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    state = SimpleNamespace(is_world_process_zero=False, max_steps=4, global_step=0)
    cb = StderrLog()
    cb.on_train_begin(None, state, None)
    state.global_step = 4
    cb.on_step_end(None, state, None)
    cb.on_log(None, state, None, logs={"loss": 1.0})
    cb.on_train_end(None, state, None)
    assert capsys.readouterr().err == ""
