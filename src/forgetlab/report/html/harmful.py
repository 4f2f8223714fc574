"""Harmful-request section (AdvBench / MultiJail): refusal table with the Wilson intervals
of ``results.json``, bars, and a sample browser whose generated text stays hidden until
the reader asks for it (and is left out of the file entirely with ``redact``)."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from forgetlab.report.harmful_report import GROUP_ORDER, LABEL_ORDER, ordered_conditions
from forgetlab.report.html.collect import HarmfulRun
from forgetlab.report.html.page import (
    browser,
    interval_text,
    json_script,
    lookup,
    num,
    select,
)
from forgetlab.report.html.svg import BarGroup, bar_chart

GENERATED_FIELDS = ("output_raw", "output_en", "output")


def _rate_cell(res: Mapping[str, Any], role: str, cond: str, label: str, src: str) -> str:
    base = ("runs", role, "per_condition", cond)
    cell = num(res, (*base, "rates", label), "pct", src=src)
    iv = lookup(res, (*base, "wilson95", label))
    return cell.replace("</td>", interval_text(iv, "pct") + "</td>")


def refusal_table(run: HarmfulRun, i: int) -> str:
    res, src = run.results, str(run.path / "results.json")
    rows = []
    for cond in ordered_conditions(res):
        for role in res["runs"]:
            name = cond["name"]
            cells = [num(res, ("runs", role, "per_condition", name, "n"), "int", src=src)]
            cells += [_rate_cell(res, role, name, lab, src) for lab in LABEL_ORDER[:3]]
            cells.append(
                num(
                    res,
                    ("runs", role, "per_condition", name, "counts", "judge_error"),
                    "int",
                    src=src,
                )
            )
            raw = lookup(res, ("runs", role, "per_condition", name, "judged_on", "raw")) or 0
            rows.append(
                f"<tr><td>{escape(str(cond['group']))}</td><th>{escape(name)}</th>"
                f"<td>{escape(role)}</td>{''.join(cells)}<td class='num'>{int(raw)}</td></tr>"
            )
    return (
        "<table><thead><tr><th>group</th><th>condition</th><th>model</th><th class='num'>n</th>"
        "<th class='num'>REFUSE %</th><th class='num'>ANSWER %</th><th class='num'>AMBIGUOUS %</th>"
        "<th class='num'>judge errors</th><th class='num'>judged raw</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table><p class='small muted'>Rates in % with Wilson 95 % "
        "intervals as recorded in results.json. 'judged raw': outputs judged without a way back "
        "to English (the judge saw the untranslated text).</p>"
    )


def group_table(run: HarmfulRun) -> str:
    """Pooled rates per resource group (MultiJail levels), where a group holds several conditions."""
    res, src = run.results, str(run.path / "results.json")
    rows = []
    for group in GROUP_ORDER:
        for role, rr in res["runs"].items():
            pooled = (rr.get("per_group") or {}).get(group)
            if not pooled or len(pooled.get("conditions", [])) < 2:
                continue
            base = ("runs", role, "per_group", group)
            cells = [num(res, (*base, "n"), "int", src=src)]
            for lab in LABEL_ORDER[:3]:
                iv = lookup(res, (*base, "wilson95", lab))
                cell = num(res, (*base, "rates", lab), "pct", src=src)
                cells.append(cell.replace("</td>", interval_text(iv, "pct") + "</td>"))
            names = ", ".join(pooled["conditions"])
            rows.append(
                f"<tr><th>{escape(group)}</th><td>{escape(role)}</td>{''.join(cells)}"
                f"<td class='small'>{escape(names)}</td></tr>"
            )
    if not rows:
        return ""
    return (
        "<h3>Pooled by group</h3><table><thead><tr><th>group</th><th>model</th>"
        "<th class='num'>n</th><th class='num'>REFUSE %</th><th class='num'>ANSWER %</th>"
        f"<th class='num'>AMBIGUOUS %</th><th>conditions</th></tr></thead><tbody>{''.join(rows)}"
        "</tbody></table>"
    )


def _pair(iv: Any) -> tuple[float, float] | None:
    if isinstance(iv, list | tuple) and len(iv) == 2 and None not in iv:
        return float(iv[0]), float(iv[1])
    return None


def chart(run: HarmfulRun) -> str:
    res = run.results
    conds = [c["name"] for c in ordered_conditions(res)]
    groups = []
    for role, rr in res["runs"].items():
        per = rr["per_condition"]
        name = (rr.get("identity") or {}).get("name") or role
        groups.append(
            BarGroup(
                f"{role}: {name}",
                [lookup(per, (c, "rates", "REFUSE")) for c in conds],
                [_pair(lookup(per, (c, "wilson95", "REFUSE"))) for c in conds],
            )
        )
    return bar_chart(
        conds, groups, title="refusal rate per condition (Wilson 95 %)", ylabel="% refused"
    )


def sample_rows(run: HarmfulRun, *, redact: bool) -> list[dict[str, Any]]:
    names = {
        role: (rr.get("identity") or {}).get("name") or role
        for role, rr in run.results["runs"].items()
    }
    rows = []
    for s in run.samples:
        sid = str(s.get("id"))
        label = str(s.get("label"))
        other = {name: labels[sid] for name, labels in run.label_sets.items() if sid in labels}
        row: dict[str, Any] = {
            "id": sid,
            "cond": s.get("condition"),
            "grp": s.get("group"),
            "role": s.get("role"),
            "model": names.get(str(s.get("role")), s.get("role")),
            "idx": s.get("index"),
            "p": s.get("prompt"),
            "pe": s.get("prompt_en") if s.get("prompt_en") != s.get("prompt") else None,
            "lab": label,
            "jo": s.get("judged_on"),
            "other": other,
            "dis": [name for name, lab in other.items() if lab != label],
        }
        if redact:
            row["redacted"] = True
        else:
            row["o"] = s.get("output_raw", s.get("output"))
            if s.get("output_en") is not None and s.get("output_en") != row["o"]:
                row["oe"] = s.get("output_en")
        rows.append(row)
    return rows


def section(run: HarmfulRun, i: int, *, redact: bool) -> str:
    res = run.results
    judge = (res.get("judge") or {}).get("name")
    parts = [
        f"<p>Benchmark <b>{escape(str(res.get('benchmark')))}</b>; judge <code>{escape(str(judge))}</code>; "
        f"{escape(str(lookup(res, ('selection', 'n_prompts'))))} prompts per condition; "
        f"{escape(str(lookup(res, ('generation', 'max_new_tokens'))))} new tokens. "
        f'<span class="muted small">{escape(str(run.path))}</span></p>',
        refusal_table(run, i),
        group_table(run),
        f'<div class="charts">{chart(run)}</div>',
    ]
    rows = sample_rows(run, redact=redact)
    conds = list(dict.fromkeys(str(r["cond"]) for r in rows))
    roles = list(dict.fromkeys(str(r["role"]) for r in rows))
    labels = [lab for lab in LABEL_ORDER if any(r["lab"] == lab for r in rows)]
    filters = [
        select("cond", "Condition", conds),
        select("role", "Model", roles),
        select("lab", "Verdict", labels),
    ]
    if run.label_sets:
        opts = "".join(
            f'<option value="{escape(n)}">judge ≠ {escape(n)}</option>' for n in run.label_sets
        )
        filters.append(
            '<label>Judges <select data-field="dis"><option value="">all samples</option>'
            '<option value="any">any disagreement</option><option value="none">all agree</option>'
            f"{opts}</select></label>"
        )
    warning = (
        '<p class="warnbox">The generated text of this run was left out of this file (--redact).</p>'
        if redact
        else '<p class="warnbox">Warning: outputs answer harmful requests and may be offensive or '
        "dangerous. Each stays hidden until you click <i>Reveal</i>; share this file only with "
        "people who should read them, or rebuild it with <code>forgetlab report --redact</code>.</p>"
    )
    src_id = f"samples-{i}"
    parts += [
        "<h3>Samples</h3>",
        warning,
        browser(
            "harmful",
            src_id,
            filters,
            [
                ("condition", ""),
                ("model", ""),
                ("prompt", ""),
                ("verdict", ""),
                ("generated text", ""),
            ],
            widths=("10%", "12%", "30%", "14%", "34%"),
        ),
        json_script(src_id, {"rows": rows}),
    ]
    return "".join(parts)
