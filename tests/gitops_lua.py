"""Run the Argo CD health check for BridgedApp (deploy/gitops/argocd/health.lua) in a real Lua runtime.

Argo CD runs health checks in gopher-lua, a Lua 5.1 VM, with only the base, table and package libraries and
a reduced `os` (time, date); the `string` library is not opened, so string methods do not exist either
(argo-cd util/lua/lua.go). `argocd_health` runs the script in lupa's Lua 5.1 with the same globals removed, so
a script that works here does not lean on anything Argo CD withholds, and it reads the result the way
Argo CD's `ExecuteHealthLua` does. Shared by the unit tests (statuses built by the operator's own code) and
the integration tests (live BridgedApps).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from lupa import lua51

REPO = Path(__file__).resolve().parents[1]
HEALTH_LUA = REPO / "deploy" / "gitops" / "argocd" / "health.lua"

#: Argo CD's health status codes (gitops-engine pkg/health); anything else becomes Unknown.
HEALTH_STATUSES = frozenset({"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"})
INVALID_STATUS_MESSAGE = "Lua returned an invalid health status"
LuaError = lua51.LuaError  # what a failing script raises (lupa has one error class per Lua version)

# Leaves what Argo CD's VM offers: base functions, table, package, and an os with only time and date.
_SANDBOX = """
local safe_os = {time = os.time, date = os.date}
getmetatable("").__index = nil
for _, name in ipairs({"string", "io", "math", "debug", "coroutine", "python"}) do
  _G[name] = nil
  package.loaded[name] = nil
end
os = safe_os
package.loaded.os = safe_os
"""


@cache
def health_script() -> str:
    return HEALTH_LUA.read_text()


def argocd_health(obj: dict[str, Any], script: str | None = None) -> tuple[str, str]:
    """(status, message) as Argo CD would show them for this BridgedApp object (a dict as the API returns it).

    A fresh VM per call, like Argo CD. A Lua error propagates as `LuaError`: in Argo CD it would turn
    the resource's health into Unknown with that error as message, which is always a bug in the script.
    """
    runtime = lua51.LuaRuntime(register_eval=False, register_builtins=False, unpack_returned_tuples=True)
    runtime.execute(_SANDBOX)
    runtime.globals().obj = runtime.table_from(obj, recursive=True)
    result = runtime.execute(script if script is not None else health_script())
    if result is None:
        return "", ""
    if lua51.lua_type(result) != "table":
        raise TypeError(f"expect table output from Lua script, not {lua51.lua_type(result)}")
    if next(iter(result.keys()), None) is None:
        return "", ""  # an empty table: Argo CD records no health
    status = result["status"] or ""
    message = result["message"] or ""
    if status not in HEALTH_STATUSES:
        return "Unknown", INVALID_STATUS_MESSAGE
    return str(status), str(message)
