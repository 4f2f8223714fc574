"""Progress in a log: one line per 30 s or 5 %, with exact content; a terminal keeps tqdm."""

from __future__ import annotations

import io
import random

from forgetlab.progress import INTERVAL_S, STEP_FRACTION, Progress, duration


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Log(io.StringIO):
    """A file that is not a terminal, remembering the clock time of each line written."""

    def __init__(self, clock: Clock | None = None, tty: bool = False) -> None:
        super().__init__()
        self.clock, self.tty = clock, tty
        self.times: list[float] = []

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> int:
        if self.clock is not None:
            self.times += [self.clock.now] * text.count("\n")
        return super().write(text)

    def lines(self) -> list[str]:
        return self.getvalue().splitlines()


def test_a_line_every_five_percent_when_steps_are_fast() -> None:
    clock, log = Clock(), Log()
    bar = Progress(1000, desc="pretrain", stream=log, clock=clock)
    for _ in range(1000):
        clock.now += 0.1  # 50 steps = 5 s, so the 5 % rule fires first
        bar.update()
    bar.close()
    counts = [int(line.split()[1].split("/")[0]) for line in log.lines()]
    assert counts == list(range(50, 1001, 50))  # 20 lines, the last one is the final line


def test_a_line_every_thirty_seconds_when_steps_are_slow() -> None:
    clock = Clock()
    log = Log(clock)
    bar = Progress(1000, desc="generate", unit="prompt", stream=log, clock=clock)
    for _ in range(20):
        clock.now += 7.0  # 5 % would take 350 s
        bar.update()
    bar.close()
    # lines after steps 5 (35 s), 10 (70 s), 15 (105 s), 20 (140 s): the first update at
    # which 30 s had passed since the previous line; closing at step 20 repeats nothing
    assert [line.split()[1] for line in log.lines()] == ["5/1000", "10/1000", "15/1000", "20/1000"]
    assert [t - 1000.0 for t in log.times] == [35.0, 70.0, 105.0, 140.0]
    bar = Progress(1000, desc="generate", unit="prompt", stream=log, clock=clock)
    clock.now += 7.0
    bar.update()
    bar.close()  # stopped before its first line: the final line says so
    assert log.lines()[-1] == "generate: 1/1000 prompts (0%), 7 s/prompt, elapsed 7s, stopped"


def reference_lines(events: list[tuple[float, int]], total: int, start: float) -> list[int]:
    """The rule written out: a line at an update when the count moved and 30 s passed or
    the count advanced 5 % of the total since the previous line; then a final line."""
    printed, last_n, last_t, n = [], 0, start, 0
    for t, step in events:
        n += step
        if n != last_n and (t - last_t >= INTERVAL_S or n - last_n >= STEP_FRACTION * total):
            printed.append(n)
            last_n, last_t = n, t
    if not printed or n != last_n:
        printed.append(n)
    return printed


def test_irregular_updates_follow_the_rule_exactly() -> None:
    rng = random.Random(0)
    for _ in range(200):
        total = rng.choice([7, 40, 100, 1000, 12345])
        clock, log = Clock(rng.uniform(0, 1e6)), Log()
        start = clock.now
        bar = Progress(total, desc="x", stream=log, clock=clock)
        events = []
        for _ in range(rng.randint(0, 60)):
            clock.now += rng.choice([0.0, 0.5, 3.0, 29.9, 30.0, 45.0])
            step = rng.choice([0, 1, 1, 2, max(1, total // 37), max(1, total // 19)])
            events.append((clock.now, step))
            bar.update(step)
        bar.close()
        got = [int(line.split()[1].split("/")[0]) for line in log.lines()]
        assert got == reference_lines(events, total, start)


def test_the_content_of_a_line() -> None:
    clock, log = Clock(100.0), Log()
    bar = Progress(10000, desc="pretrain", stream=log, clock=clock)
    bar.set_postfix(loss="2.8559", lr="3.00e-03")
    clock.now += 25.0
    bar.update(500)  # 5 % in 25 s: 20 step/s, 9,500 left
    assert log.lines() == [
        "pretrain: 500/10000 steps (5%), 20 step/s, loss=2.8559, lr=3.00e-03, elapsed 25s, ETA 7m55s"
    ]
    clock.now += 575.0
    bar.update(9500)
    bar.close()
    assert log.lines()[1:] == [
        "pretrain: 10000/10000 steps (100%), 16.7 step/s, loss=2.8559, lr=3.00e-03, elapsed 10m00s"
    ]


def test_a_resumed_count_rates_only_the_new_steps_and_slow_rates_read_per_item() -> None:
    clock, log = Clock(), Log()
    with Progress(40, desc="base (m)", unit="prompt", initial=20, stream=log, clock=clock) as bar:
        clock.now += 16.0
        bar.update(2)  # 2 prompts in 16 s: 8 s/prompt, 18 left
    assert log.lines() == ["base (m): 22/40 prompts (55%), 8 s/prompt, elapsed 16s, ETA 2m24s"]


def test_closing_writes_one_final_line_only_when_it_adds_something() -> None:
    clock, log = Clock(), Log()
    Progress(8, desc="cached", unit="prompt", initial=8, stream=log, clock=clock).close()
    assert log.lines() == ["cached: 8/8 prompts (100%), elapsed 0s"]
    log = Log()
    bar = Progress(None, desc="open-ended", stream=log, clock=clock)
    clock.now += 3700
    bar.update(3)
    bar.close()
    bar.close()
    assert log.lines() == ["open-ended: 3 steps, 1233 s/step, elapsed 1h01m"]  # no repeat


def test_disabled_writes_nothing_and_a_terminal_gets_a_tqdm_bar() -> None:
    log = Log()
    bar = Progress(10, desc="quiet", stream=log, enabled=False)
    bar.update(10)
    bar.close()
    assert log.getvalue() == ""
    tty = Log(tty=True)
    bar = Progress(10, desc="live", stream=tty)
    assert type(bar._bar).__module__.startswith("tqdm")
    for _ in range(10):
        bar.update()
    bar.set_postfix(loss="1.0000")
    bar.close()
    text = tty.getvalue()
    assert "\r" in text and "live: 100%|" in text and "10/10" in text and "loss=1.0000" in text


def test_a_default_cpu_reproduce_log_stays_small() -> None:
    """The default preset's two bars at the measured speeds (pretraining 10,000 steps at 51 and
    at 131 ms/step, fine-tuning 500 steps at 34 and 58 ms/step, docs/synthetic-reproduction.md)
    write at most 20 + T/30 s + 1 lines each, a few kB in all."""
    for pre_s, fine_s in ((0.051, 0.034), (0.131, 0.058)):
        clock, log = Clock(), Log()
        for desc, steps, per_step in (("pretrain", 10000, pre_s), ("finetune", 500, fine_s)):
            bar = Progress(steps, desc=desc, stream=log, clock=clock)
            bar.set_postfix(loss="0.1234", lr="1.23e-04")
            lines_before = len(log.lines())
            for _ in range(steps):
                clock.now += per_step
                bar.update()
            bar.close()
            assert len(log.lines()) - lines_before <= 20 + steps * per_step / INTERVAL_S + 1
        size = len(log.getvalue().encode())
        print(f"{pre_s * 1000:.0f} ms/step: {len(log.lines())} lines, {size} bytes")
        assert size < 8000


def test_duration() -> None:
    assert [duration(s) for s in (0, 59.4, 60, 3599, 3600, 7385)] == [
        "0s",
        "59s",
        "1m00s",
        "59m59s",
        "1h00m",
        "2h03m",
    ]
