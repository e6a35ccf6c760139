-- wrk_corpus.lua: replays a hamustro-send corpus with wrk.
--
--   hamustro-send --corpus DIR --count 1000 [--format json] [--payloads 1-25]
--   HAMUSTRO_CORPUS=DIR wrk -t2 -c10 -d20s --latency -s bench/wrk_corpus.lua \
--       http://127.0.0.1:18080/api/v1/track
--
-- Every wrk thread loads the whole corpus (DIR/corpus.txt gives the count,
-- DIR/N.body the raw body, DIR/N.headers "Name: value" lines) into memory at
-- init and pre-formats each request once, so the per-request cost is only a
-- table lookup. Threads start at different offsets so they do not send the
-- same body at the same moment. The bodies are signed with a time fixed when
-- the corpus was written; the collector does not check freshness.

local dir = os.getenv("HAMUSTRO_CORPUS")
local requests = {}
local next_index = 1
local thread_counter = 0

local function read_file(path)
    local f, err = io.open(path, "rb")
    if not f then
        error("wrk_corpus.lua: " .. tostring(err))
    end
    local data = f:read("*a")
    f:close()
    return data
end

function setup(thread)
    thread:set("thread_id", thread_counter)
    thread_counter = thread_counter + 1
end

function init(args)
    if not dir or dir == "" then
        error("wrk_corpus.lua: set HAMUSTRO_CORPUS to a hamustro-send --corpus directory")
    end
    local meta = read_file(dir .. "/corpus.txt")
    local count = tonumber(meta:match("count (%d+)"))
    if not count or count < 1 then
        error("wrk_corpus.lua: " .. dir .. "/corpus.txt has no count")
    end
    for i = 0, count - 1 do
        local body = read_file(dir .. "/" .. i .. ".body")
        local headers = {}
        for line in read_file(dir .. "/" .. i .. ".headers"):gmatch("[^\n]+") do
            local name, value = line:match("^([^:]+):%s*(.-)%s*$")
            if name then
                headers[name] = value
            end
        end
        requests[#requests + 1] = wrk.format("POST", nil, headers, body)
    end
    local id = thread_id or 0
    next_index = (id * 7919) % #requests + 1
end

function request()
    local r = requests[next_index]
    next_index = next_index % #requests + 1
    return r
end
