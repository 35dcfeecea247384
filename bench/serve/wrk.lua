-- wrk script for bench/serve/run.py.  VIGIL_BENCH_MODE picks the request:
--   events  POST /v1/events, one AWS ObjectCreated record, every key
--           unique (wrk thread, counter), form-encoded as AWS sends it
--   scan    POST /v1/scan with the bytes of VIGIL_BENCH_BODY, the first
--           16 replaced by (thread, counter) so no two bodies are equal
--           and no verdict cache can answer
-- done() prints one line "WRKJSON {...}" that run.py reads.
local mode = os.getenv("VIGIL_BENCH_MODE") or "events"
local headers = {
	["Authorization"] = "Bearer " .. (os.getenv("VIGIL_BENCH_TOKEN") or ""),
	["Content-Type"] = mode == "events" and "application/json" or
	    "application/octet-stream",
}
local nthreads = 0
local counter = 0
local rest

function setup(thread)
	nthreads = nthreads + 1
	thread:set("tid", nthreads)
end

function init(args)
	if mode == "scan" then
		local f = assert(io.open(os.getenv("VIGIL_BENCH_BODY"), "rb"))
		rest = f:read("*a"):sub(17)
		f:close()
	end
end

function request()
	counter = counter + 1
	if mode == "scan" then
		return wrk.format("POST", "/v1/scan?name=bench",
		    headers, string.format("%02d-%012d\n", tid, counter) .. rest)
	end
	local key = string.format("bench/t%d/object+%09d.txt", tid, counter)
	local body = '{"Records":[{"eventVersion":"2.1","eventSource":' ..
	    '"aws:s3","awsRegion":"us-east-1","eventTime":' ..
	    '"2024-06-11T12:00:00.000Z","eventName":"ObjectCreated:Put",' ..
	    '"userIdentity":{"principalId":"AWS:AIDABENCH"},' ..
	    '"s3":{"s3SchemaVersion":"1.0","bucket":{"name":"bench",' ..
	    '"ownerIdentity":{"principalId":"A3BENCHOWNER"},' ..
	    '"arn":"arn:aws:s3:::bench"},"object":{"key":"' .. key ..
	    '","size":4096,"eTag":"' .. string.format("%032x", counter) ..
	    '","sequencer":"' .. string.format("%018X", counter) .. '"}}}]}'
	return wrk.format("POST", "/v1/events", headers, body)
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format('WRKJSON {"requests": %d, "duration_us": %d, ' ..
	    '"connect": %d, "read": %d, "write": %d, "status": %d, ' ..
	    '"timeout": %d, "p50_us": %d, "p99_us": %d}\n', summary.requests,
	    summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
	    latency:percentile(50), latency:percentile(99)))
end
