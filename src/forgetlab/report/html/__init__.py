"""Self-contained HTML reports: ``forgetlab report RUN_DIR ... --out FILE.html``.

``collect`` reads a run directory into typed structures, the section modules turn each kind
into HTML (numbers as written in the run's result files), and ``assets/`` holds the inline
CSS and the script of the per-sample browser. The page needs no network and no server.
"""

from forgetlab.report.html.render import build_report, write_report, write_run_report

__all__ = ["build_report", "write_report", "write_run_report"]
