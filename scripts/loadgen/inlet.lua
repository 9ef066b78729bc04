-- wrk script for Inlet: POSTs pre-generated Segment bodies (scripts/loadgen/loadgen.py), cycling
-- through them, and counts every response status and the messages Inlet reported accepted.
--
--   wrk -t2 -c16 -d20s -s scripts/loadgen/inlet.lua URL -- BODIES_FILE RUN_ID
--
-- Each body's messageIds carry the placeholder @P@, replaced per request by RUN_ID, the thread
-- and the pass over the file, so no id ever repeats (every message is a new row, not a
-- duplicate). Envelopes ({"batch": ...}) go to /v1/batch, the rest to / (the partner
-- destination route). INLET_WRK_INTERVAL_MS > 0 in the environment paces each thread to one
-- request per interval (to load at a chosen rate rather than flat out). Authentication: pass -H 'Authorization: Basic ...'.

local threads = {}
local counter = 1

function setup(thread)
    thread:set("id", counter)
    counter = counter + 1
    table.insert(threads, thread)
end

-- The pieces of `text` around each `separator` (plain text, not a pattern). Bodies are split
-- once here and joined with the per-request prefix by table.concat: substituting with gsub on
-- every request cost wrk a fifth of this 2-core machine under `make bench`.
function split(text, separator)
    local pieces, start = {}, 1
    while true do
        local at = text:find(separator, start, true)
        if not at then
            table.insert(pieces, text:sub(start))
            return pieces
        end
        table.insert(pieces, text:sub(start, at - 1))
        start = at + #separator
    end
end

function init(args)
    local file = args[1]
    run_id = args[2] or "r"
    bodies, paths = {}, {}
    for line in io.lines(file) do
        if #line > 0 then
            table.insert(bodies, split(line, "@P@"))
            table.insert(paths, line:sub(1, 9) == '{"batch":' and "/v1/batch" or "/")
        end
    end
    if #bodies == 0 then error("no bodies in " .. file) end
    index, pass = 0, 0
    statuses, accepted, duplicates, messages_sent, resends = {}, 0, 0, 0, 0
    math.randomseed(os.time() + (id or 0) * 7919)
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
end

-- Body `i`'s pieces with the request line and headers in front of the first, for a prefix of
-- `prefix_length` bytes (Content-Length depends on it): the whole request is then one
-- table.concat. Building the body first and passing it to wrk.format copied every 100 KB body
-- twice more per request. Rebuilt when the prefix grows a digit.
local framed = {}
local function framed_pieces(i, prefix_length)
    local cached = framed[i]
    if cached and cached.prefix_length == prefix_length then return cached.pieces end
    local pieces, length = {}, 0
    for k, piece in ipairs(bodies[i]) do
        pieces[k] = piece
        length = length + #piece
    end
    length = length + (#pieces - 1) * prefix_length
    local lines = { "POST " .. paths[i] .. " HTTP/1.1" }
    for name, value in pairs(wrk.headers) do
        if name:lower() ~= "content-length" then table.insert(lines, name .. ": " .. value) end
    end
    table.insert(lines, "Content-Length: " .. length)
    pieces[1] = table.concat(lines, "\r\n") .. "\r\n\r\n" .. pieces[1]
    framed[i] = { prefix_length = prefix_length, pieces = pieces }
    return pieces
end

-- Exact resends (INLET_RESEND_PERCENT, 0-100): that share of requests repeats, byte for byte,
-- a request this thread sent before (a client that timed out and retried; a Replay over data
-- already stored). Every message of a resend is a duplicate; the rest are new.
--
-- The request repeated is one of the 48 built before the last 16: wrk builds a request when a
-- connection is free to send it, so one of the newest could still be unsent on another of the
-- thread's connections, and its "resend" would overtake it. A retry follows its original.
local resend_percent = tonumber(os.getenv("INLET_RESEND_PERCENT") or "0") or 0
local recent, recent_size, recent_next, recent_count = {}, 64, 1, 0
local resend_lag = 16

function request()
    if resend_percent > 0 and recent_count > resend_lag and math.random() * 100 < resend_percent then
        resends = resends + 1
        -- Positions back from the newest: resend_lag + 1 .. min(count, size).
        local back = resend_lag + math.random(math.min(recent_count, recent_size) - resend_lag)
        return recent[(recent_next - 1 - back) % recent_size + 1]
    end
    index = index + 1
    if index > #bodies then index, pass = 1, pass + 1 end
    local prefix = run_id .. "t" .. id .. "p" .. pass
    local text = table.concat(framed_pieces(index, #prefix), prefix)
    if resend_percent > 0 then
        recent[recent_next] = text
        recent_next = recent_next % recent_size + 1
        recent_count = recent_count + 1
    end
    return text
end

-- Pacing (INLET_WRK_INTERVAL_MS > 0): each thread sends one request per interval, on a
-- schedule, whichever of its connections asks. A slot missed while every connection waited for
-- a response is dropped, not made up in a burst. wrk decides at start-up, on the main script
-- state, whether `delay` exists: so it is defined only when pacing is asked for (a `delay`
-- returning 0 would still cost a timer).
local interval = tonumber(os.getenv("INLET_WRK_INTERVAL_MS") or "0") or 0
if interval > 0 then
    local ffi = require("ffi")
    ffi.cdef [[
        typedef struct { long tv_sec; long tv_usec; } inlet_timeval;
        int gettimeofday(inlet_timeval *tv, void *tz);
    ]]
    local tv = ffi.new("inlet_timeval")
    local function now_ms()
        ffi.C.gettimeofday(tv, nil)
        return tonumber(tv.tv_sec) * 1000 + tonumber(tv.tv_usec) / 1000
    end
    local next_due = nil
    function delay()
        local now = now_ms()
        if next_due == nil or next_due < now - interval then next_due = now end
        next_due = next_due + interval
        return math.floor(math.max(0, next_due - interval - now))
    end
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
    if status == 200 then
        local n = body:match('"accepted"%s*:%s*(%d+)')
        if n then accepted = accepted + tonumber(n) end
        local d = body:match('"duplicates"%s*:%s*(%d+)')
        if d then duplicates = duplicates + tonumber(d) end
    end
end

function done(summary, latency, requests)
    local all, ok = {}, 0
    local total_accepted, total_duplicates, total_resends = 0, 0, 0
    for _, thread in ipairs(threads) do
        local s = thread:get("statuses")
        for code, n in pairs(s) do all[code] = (all[code] or 0) + n end
        total_accepted = total_accepted + thread:get("accepted")
        total_duplicates = total_duplicates + thread:get("duplicates")
        total_resends = total_resends + thread:get("resends")
    end
    local codes = {}
    for code, _ in pairs(all) do table.insert(codes, code) end
    table.sort(codes)
    local parts = {}
    for _, code in ipairs(codes) do table.insert(parts, code .. "=" .. all[code]) end
    local e = summary.errors
    io.write(string.format(
        "WRK requests=%d duration_s=%.2f accepted=%d duplicates=%d resends=%d statuses=%s socket_errors=connect:%d,read:%d,write:%d,timeout:%d "
            .. "non2xx=%d p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f p999_ms=%.1f max_ms=%.1f\n",
        summary.requests, summary.duration / 1e6, total_accepted, total_duplicates, total_resends, table.concat(parts, ","),
        e.connect, e.read, e.write, e.timeout, e.status,
        latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
        latency:percentile(99.9) / 1000, latency.max / 1000))
end
