"""Paired base-vs-tuned section (ICL vs IF): the per-language table and chart from
``results.json``, then a per-sample browser over ``samples.jsonl``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape
from typing import Any

from forgetlab.report.html.collect import PairedRun, XnliRun
from forgetlab.report.html.page import browser, interval_text, json_script, lookup, num, select
from forgetlab.report.html.svg import BarGroup, bar_chart
from forgetlab.report.llm_report import condition_label

ROLES = ("base", "tuned")
OUTCOMES = ("ICL hit", "IF hit", "both", "neither")
FLIPPED = {"bo": "ICL hit", "to": "IF hit"}  # the prompts fine-tuning turned from ICL to IF


def outcome(row: Mapping[str, Any] | None) -> str:
    """The sample's outcome from its recorded hit flags (not rescored)."""
    if row is None:
        return "missing"
    icl, iff = bool(row.get("icl_hit")), bool(row.get("if_hit"))
    return "both" if icl and iff else "ICL hit" if icl else "IF hit" if iff else "neither"


def drop_interval(row: Mapping[str, Any]) -> Any:
    """A paired interval for the drop if the run recorded one (key names vary by version)."""
    for key in ("drop_ci95", "drop_interval", "drop_ci"):
        if key in row:
            return row[key]
    paired = row.get("paired")
    if isinstance(paired, Mapping):
        return paired.get("drop_ci95", paired.get("ci95"))
    return None


def language_table(run: PairedRun, i: int) -> str:
    res, src = run.results, str(run.path / "results.json")
    rows = []
    for cond, row in res["languages"].items():
        cells = [
            num(res, ("languages", cond, "base", "icl_accuracy"), "pct", src=src),
            num(res, ("languages", cond, "tuned", "icl_accuracy"), "pct", src=src),
            num(res, ("languages", cond, "drop"), "spct", src=src).replace(
                "</td>", interval_text(drop_interval(row), "spct") + "</td>"
            ),
            num(res, ("languages", cond, "base", "if_rate"), "pct", src=src),
            num(res, ("languages", cond, "tuned", "if_rate"), "pct", src=src),
            num(res, ("languages", cond, "base", "n"), "int", src=src),
        ]
        rows.append(f"<tr><th>{escape(condition_label(cond))}</th>{''.join(cells)}</tr>")
    ov = [
        num(res, ("overall", "base", "icl_accuracy"), "pct", src=src),
        num(res, ("overall", "tuned", "icl_accuracy"), "pct", src=src),
        num(res, ("overall", "drop"), "spct", src=src).replace(
            "</td>", interval_text(drop_interval(res["overall"]), "spct") + "</td>"
        ),
        num(res, ("overall", "base", "if_rate"), "pct", src=src),
        num(res, ("overall", "tuned", "if_rate"), "pct", src=src),
        num(res, ("overall", "base", "n"), "int", src=src),
    ]
    rows.append(f"<tr class='total'><th>Overall</th>{''.join(ov)}</tr>")
    has_ci = any(drop_interval(r) is not None for r in res["languages"].values())
    note = (
        "Drop = base − tuned ICL accuracy (percentage points)"
        + (", with the paired 95 % interval recorded in results.json." if has_ci else ".")
        + ("" if has_ci else " This run's results.json records no interval for the drop.")
    )
    return (
        '<table class="lang"><thead><tr><th>condition</th><th class="num">base ICL %</th>'
        '<th class="num">tuned ICL %</th><th class="num">drop</th><th class="num">base IF %</th>'
        '<th class="num">tuned IF %</th><th class="num">n / model</th></tr></thead>'
        f'<tbody>{"".join(rows)}</tbody></table><p class="small muted">{note} Accuracy per '
        "condition is the mean over its tasks.</p>"
    )


def task_table(run: PairedRun, i: int) -> str:
    res, src = run.results, str(run.path / "results.json")
    tasks: list[str] = []
    for row in res["languages"].values():
        for t in row["base"].get("per_task", {}):
            if t not in tasks:
                tasks.append(t)
    head = "".join(f"<th class='num' colspan='2'>{escape(t)}</th>" for t in tasks)
    sub = "<th class='num'>base</th><th class='num'>tuned</th>" * len(tasks)
    rows = []
    for cond in res["languages"]:
        cells = "".join(
            num(res, ("languages", cond, role, "per_task", t, "icl_accuracy"), "pct", src=src)
            for t in tasks
            for role in ROLES
        )
        rows.append(f"<tr><th>{escape(condition_label(cond))}</th>{cells}</tr>")
    return (
        "<details><summary>ICL accuracy per task (%)</summary><table><thead>"
        f"<tr><th rowspan='2'>condition</th>{head}</tr><tr>{sub}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></details>"
    )


def chart(run: PairedRun) -> str:
    res = run.results
    conds = list(res["languages"])
    groups = [
        BarGroup(
            f"{role} {metric}",
            [lookup(res, ("languages", c, role, key)) for c in conds],
        )
        for metric, key in (("ICL", "icl_accuracy"), ("IF", "if_rate"))
        for role in ROLES
    ]
    return bar_chart(
        [condition_label(c) for c in conds],
        groups,
        title="ICL accuracy and IF rate per condition",
        ylabel="% of prompts",
    )


def sample_rows(run: PairedRun) -> list[dict[str, Any]]:
    """One browser row per sample with both models' outputs side by side."""
    by_sample: dict[str, dict[str, Any]] = {}
    for r in run.samples:
        sid = str(r.get("sample", r.get("id")))
        by_sample.setdefault(sid, {})[str(r.get("model"))] = r
    english = {  # untransformed answers, to mark the read-back outputs of transformed prompts
        (r.get("icl_task"), r.get("if_task"), r.get("index")): r
        for r in run.samples
        if r.get("condition") == r.get("language") == "en" and not r.get("transform")
    }
    rows = []
    for sid, roles in by_sample.items():
        first = roles.get("base") or roles.get("tuned") or {}
        mi, prompt = str(first.get("model_input", "")), first.get("prompt")
        tail = [ln.strip() for ln in mi.strip().splitlines() if ln.strip()][-2:]
        line = " ⏎ ".join(tail) if tail else mi
        en = english.get((first.get("icl_task"), first.get("if_task"), first.get("index")), {})
        row: dict[str, Any] = {
            "id": sid,
            "cond": first.get("condition"),
            "task": f"{first.get('icl_task')}-{first.get('if_task')}",
            "idx": first.get("index"),
            "p0": line[:160],
            "mi": mi,
            "p": prompt if prompt is not None and prompt != mi else None,
            "ia": first.get("icl_answer"),
            "fa": first.get("if_answer"),
            "bo": outcome(roles.get("base")),
            "to": outcome(roles.get("tuned")),
        }
        if first.get("transform"):
            row["ia0"], row["fa0"] = en.get("icl_answer"), en.get("if_answer")
        for role, key in (("base", "b"), ("tuned", "t")):
            s = roles.get(role)
            if s is not None:
                m = {
                    "o": s.get("output"),
                    "ih": bool(s.get("icl_hit")),
                    "fh": bool(s.get("if_hit")),
                }
                if s.get("output_mapped") is not None and s.get("output_mapped") != s.get("output"):
                    m["om"] = s["output_mapped"]
                row[key] = m
        rows.append(row)
    return rows


def model_names(res: Mapping[str, Any]) -> dict[str, str]:
    """Each role's model name as recorded in the results (the role if none)."""
    models = res.get("models") or {}
    return {role: str((models.get(role) or {}).get("name") or role) for role in ROLES}


def pair_header(run: PairedRun | XnliRun) -> list[str]:
    """The opening paragraphs of a base-vs-tuned section: the two models, generation, the
    matched-pair note and a warning for a partial run."""
    res = run.results
    names = model_names(res)
    parts = [
        f"<p>Base: <code>{escape(str(names['base']))}</code> → tuned: "
        f"<code>{escape(str(names['tuned']))}</code>; "
        f"{escape(str(lookup(res, ('generation', 'max_new_tokens'))))} new tokens, greedy. "
        f'<span class="muted small">{escape(str(run.path))}</span></p>'
    ]
    pair = res.get("pair") or {}
    if pair.get("note"):
        box = "warnbox" if pair.get("matched") is not True else "small muted"
        parts.append(f'<p class="{box}">Pair: {escape(str(pair["note"]))}</p>')
    if not res.get("complete", True):
        parts.append(
            f'<p class="warnbox">PARTIAL run: {escape(str(res.get("samples_done")))}/'
            f"{escape(str(res.get('samples_expected')))} samples.</p>"
        )
    return parts


def section(run: PairedRun, i: int, *, redact: bool = False) -> str:
    res = run.results
    names = model_names(res)
    parts = pair_header(run)
    parts += [language_table(run, i)]
    claim = res.get("claim")
    if claim:
        verdict = "smaller" if claim.get("smaller_outside_english") else "not smaller"
        src = str(run.path / "results.json")
        parts.append(
            "<p>Paper's claim (drop smaller outside English): English drop "
            f"{num(res, ('claim', 'english_drop'), 'spct', src=src, tag='span')}"
            " vs mean drop elsewhere "
            f"{num(res, ('claim', 'mean_other_drop'), 'spct', src=src, tag='span')}"
            f" points: <b>{verdict}</b> here.</p>"
        )
    parts += [f'<div class="charts">{chart(run)}</div>', task_table(run, i)]
    rows = sample_rows(run)
    conds = list(dict.fromkeys(str(r["cond"]) for r in rows))
    tasks = list(dict.fromkeys(str(r["task"]) for r in rows))
    src_id = f"samples-{i}"
    view = (
        '<label>Models <select data-view="1"><option value="both">base and tuned</option>'
        '<option value="base">base only</option><option value="tuned">tuned only</option>'
        "</select></label>"
    )
    preset = escape(json.dumps(FLIPPED))
    parts += [
        "<h3>Samples</h3>",
        '<p class="small muted">Expected answers: <span class="chip icl">ICL answer</span> '
        '<span class="chip if">IF answer</span>, marked where they occur in an output; hits are '
        "the run's recorded scores. Click a prompt to see the full text the model saw (and, for a "
        "transformed condition, its inverse).</p>",
        browser(
            "paired",
            src_id,
            [
                select("cond", "Condition", conds),
                select("task", "Task", tasks),
                select("bo", "Base outcome", OUTCOMES),
                select("to", "Tuned outcome", OUTCOMES),
            ],
            [
                ("condition", ""),
                ("prompt", ""),
                ("expected", ""),
                (f"base: {names['base']}", "col-base"),
                (f"tuned: {names['tuned']}", "col-tuned"),
            ],
            extra=view + f"<button type='button' data-preset='{preset}'>Flipped by fine-tuning "
            "(base ICL hit → tuned IF hit)</button>",
            widths=("11%", "33%", "12%", "22%", "22%"),
        ),
        json_script(src_id, {"rows": rows}),
    ]
    return "".join(parts)
