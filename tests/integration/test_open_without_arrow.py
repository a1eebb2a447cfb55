"""Opening the embedded warehouse loads chDB without pyarrow (nor numpy with it): chDB treats it as
optional and the warehouse never reads Arrow; a process that needs pyarrow can still import it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.child import run_python

pytestmark = pytest.mark.integration


def test_the_embedded_warehouse_opens_and_answers_without_pyarrow(tmp_path: Path) -> None:
    script = (
        "import json, sys\n"
        "from sinks.clickhouse.client import connect\n"
        f"wh = connect('chdb://{tmp_path / 'wh'}')\n"
        "rows = wh.query('SELECT 1 AS one, toDecimal64(1.5, 2) AS d, [1, 2] AS a').rows\n"
        "big = len(wh.query('SELECT number FROM numbers(70000)', max_bytes=10**8).rows)\n"
        "loaded = sorted(m for m in ('pyarrow', 'numpy', 'pandas') if m in sys.modules)\n"
        "wh.close()\n"
        "import pyarrow\n"
        "print(json.dumps({'rows': [[str(v) for v in r] for r in rows], 'big': big, 'loaded': loaded}))"
    )
    out = json.loads(run_python(script, timeout=120).splitlines()[-1])
    assert out == {"rows": [["1", "1.50", "[1, 2]"]], "big": 70000, "loaded": []}
