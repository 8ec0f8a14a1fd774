-- Configuration (3): the same sticky choice as the plugin's plain hash case, written as an Envoy
-- Lua filter, the other in-proxy option an admin has. It follows the hashing contract of the
-- README: bucket = murmur3_x86_32(salt .. ":" .. key, seed 0) % 10000, newest subset owning the
-- low buckets, so with v1=90 v2=10 buckets [0, 1000) go to v2. `make bench` checks it against
-- the golden vectors before measuring.
--
-- LuaJIT numbers are doubles and its bit operations work on signed 32-bit integers, so the
-- 32-bit multiplications are split into 16-bit halves to stay exact.

local bit = require("bit")
local band, bor, bxor, rol = bit.band, bit.bor, bit.bxor, bit.rol
local lshift, rshift, tobit = bit.lshift, bit.rshift, bit.tobit
local byte = string.byte

local SALT_PREFIX = "service-a:"
local KEY_HEADER = "x-user-id"
local ROUTING_HEADER = "x-canary-subset"
local CANARY_BUCKETS = 1000 -- v2 = 10 %

local C1 = tobit(0xcc9e2d51)
local C2 = tobit(0x1b873593)
local M5 = tobit(0xe6546b64)
local F1 = tobit(0x85ebca6b)
local F2 = tobit(0xc2b2ae35)

-- a * b modulo 2^32; every partial product stays below 2^53, where doubles are exact.
local function mul32(a, b)
  local low = band(a, 0xffff)
  local high = rshift(a, 16)
  return tobit(low * b + lshift(tobit(high * b), 16))
end

local function scramble(k)
  return mul32(rol(mul32(k, C1), 15), C2)
end

local function murmur3_x86_32(s)
  local h = 0
  local len = #s
  local body = len - len % 4
  for i = 1, body, 4 do
    local b1, b2, b3, b4 = byte(s, i, i + 3)
    h = bxor(h, scramble(bor(b1, lshift(b2, 8), lshift(b3, 16), lshift(b4, 24))))
    h = tobit(mul32(rol(h, 13), 5) + M5)
  end
  local rest = len - body
  if rest > 0 then
    local k = byte(s, body + 1)
    if rest > 1 then k = bor(k, lshift(byte(s, body + 2), 8)) end
    if rest > 2 then k = bor(k, lshift(byte(s, body + 3), 16)) end
    h = bxor(h, scramble(k))
  end
  h = bxor(h, len)
  h = bxor(h, rshift(h, 16))
  h = mul32(h, F1)
  h = bxor(h, rshift(h, 13))
  h = mul32(h, F2)
  return bxor(h, rshift(h, 16))
end

function envoy_on_request(handle)
  local headers = handle:headers()
  local key = headers:get(KEY_HEADER)
  local subset = "v1"
  if key ~= nil and key ~= "" then
    local h = murmur3_x86_32(SALT_PREFIX .. key)
    if h < 0 then h = h + 4294967296 end
    if h % 10000 < CANARY_BUCKETS then subset = "v2" end
  end
  -- Always overwritten, as the plugin does, so a forged value never reaches the route table.
  headers:replace(ROUTING_HEADER, subset)
end
