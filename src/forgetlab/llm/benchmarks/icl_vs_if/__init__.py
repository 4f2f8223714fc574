"""ICL vs instruction following (docs/icl-vs-if.md): the paper's prompts (``prompts.py``)
and the benchmark that runs them on the common loop (``benchmark.py``: ``IclVsIf`` and its
``COMMAND``).

The prompt generator's names are importable from this package as well, so
``forgetlab.llm.benchmarks.icl_vs_if.generate_prompts`` keeps working.
"""

from forgetlab.llm.benchmarks.icl_vs_if.prompts import (
    ICL_TASKS,
    IF_TASKS,
    LANGUAGES,
    N_PROMPTS,
    N_SHOT,
    POOLS,
    REFERENCE_SHA256,
    SCAFFOLDS,
    SEED,
    TASKS,
    Draw,
    IclPrompt,
    Scaffold,
    assemble,
    check_language,
    check_pool,
    draws,
    export_icl_vs_if,
    generate_prompts,
    generate_transformed_prompts,
    load_pool,
    parse_tasks,
    rows_fingerprint,
    score_output,
    startblank,
    transformed_label,
    transformed_scaffold,
)

__all__ = [
    "ICL_TASKS",
    "IF_TASKS",
    "LANGUAGES",
    "N_PROMPTS",
    "N_SHOT",
    "POOLS",
    "REFERENCE_SHA256",
    "SCAFFOLDS",
    "SEED",
    "TASKS",
    "Draw",
    "IclPrompt",
    "Scaffold",
    "assemble",
    "check_language",
    "check_pool",
    "draws",
    "export_icl_vs_if",
    "generate_prompts",
    "generate_transformed_prompts",
    "load_pool",
    "parse_tasks",
    "rows_fingerprint",
    "score_output",
    "startblank",
    "transformed_label",
    "transformed_scaffold",
]
