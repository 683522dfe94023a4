"""Starlette's JSONResponse with orjson as the encoder (the same bytes, several times faster).

Starlette renders ``json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None,
separators=(",", ":"))``; orjson writes exactly that for the values the simulator answers
with (str keys, ints, bools, None, UTF-8 strings unescaped, shortest-repr floats of ordinary
magnitude), which ``crawl_pipeline_tests/simulator_tests/test_response_identity.py`` checks
byte for byte against answers recorded with the standard encoder.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse as _StarletteJSONResponse


def dumps(content: Any) -> bytes:
    return orjson.dumps(content)


class JSONResponse(_StarletteJSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
