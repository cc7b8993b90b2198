"""How many examples a property test draws: all of them in `make test`, a tenth in
`make test-unit` (ACCORD_TEST_QUICK=1), so the inner loop stays under half a minute while
the full suite keeps the budgets the properties were tuned with.

Hypothesis profiles cannot do this alone: a test's own `@settings(max_examples=...)` wins
over the loaded profile, and these tests need their own budgets.
"""

from __future__ import annotations

import os

QUICK = os.environ.get("ACCORD_TEST_QUICK") == "1"


def examples(n: int) -> int:
    return max(5, n // 10) if QUICK else n
