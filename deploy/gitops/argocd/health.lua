-- Argo CD health check for bridgedapp.io/BridgedApp
-- (argocd-cm key: resource.customizations.health.bridgedapp.io_BridgedApp; see docs/gitops.md).
--
-- The BridgedApp status follows kstatus: status.observedGeneration, a Ready condition, and the
-- abnormal-true pair Reconciling / Stalled, each condition carrying its own observedGeneration.
-- Written for Argo CD's Lua VM: Lua 5.1 (gopher-lua) without the standard string library.
local hs = {}

local function find(conditions, kind)
  if conditions == nil then
    return nil
  end
  for _, condition in ipairs(conditions) do
    if condition.type == kind then
      return condition
    end
  end
  return nil
end

local function message(condition, fallback)
  if condition ~= nil and condition.message ~= nil and condition.message ~= "" then
    return condition.message
  end
  if condition ~= nil and condition.reason ~= nil then
    return condition.reason
  end
  return fallback
end

local status = obj.status
local generation = obj.metadata.generation
if status == nil or status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the bridgedapp operator to report a status."
  return hs
end

local ready = find(status.conditions, "Ready")
local stale = generation ~= nil and status.observedGeneration ~= generation
if not stale and generation ~= nil and ready ~= nil and ready.observedGeneration ~= nil then
  stale = ready.observedGeneration ~= generation
end
if stale then
  local seen = "no generation"
  if status.observedGeneration ~= nil then
    seen = "generation " .. tostring(status.observedGeneration)
  end
  hs.status = "Progressing"
  hs.message = "Waiting for the bridgedapp operator to observe generation " .. tostring(generation)
    .. " (status is for " .. seen .. ")."
  return hs
end

if status.phase == "Paused" then
  hs.status = "Suspended"
  hs.message = message(ready, "spec.paused is true.")
  return hs
end

local stalled = find(status.conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = message(stalled, "Stalled")
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = message(ready, "Ready")
  return hs
end

local reconciling = find(status.conditions, "Reconciling")
hs.status = "Progressing"
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = message(reconciling, "Reconciling")
else
  hs.message = message(ready, "Waiting for the Ready condition.")
end
return hs
