"""The read side: what the process looks like, derived from its recorded events.

- `readmodel.report`: the report of a process (model, builder, Markdown, Jinja2 HTML), used
  by `accord report` and `make run`;
- `readmodel.projections`: the `process_view` and `timeline` tables;
- the view itself is `domain.view.process_view`, pure, since the workflow's `status` query
  answers with it inside the sandbox; everything here folds with the same `evolve`.

`readmodel.projections` keeps the disposable `process_view` and `timeline` tables
(0003_projections.sql) up to date by folding a process's stream with the domain's own
`evolve`, so a projected view is by construction what the workflow's `status` query returns.
It is the one place where the store's generic events (type, version, JSON) meet the domain:
`store/` knows streams, events, metadata and hashes, nothing of processes.
"""

from readmodel.projections import Projections

__all__ = ["Projections"]
