-- One client refreshing again and again on one kept-alive connection: each request carries the
-- refresh token the last answer returned (REFRESH_TOKEN is the first), so every one rotates. The
-- totals are printed by summary.lua, beside this file.
local token = os.getenv("REFRESH_TOKEN")

request = function()
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, '{"refresh":"' .. token .. '"}')
end

response = function(status, headers, body)
  token = body:match('"refresh"%s*:%s*"([^"]+)"') or token
end

dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "summary.lua")
