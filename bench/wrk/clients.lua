-- Shared by the wrk scripts: one token (and one post to vote on) per connection.
-- wrk runs one Lua state per thread; with -t N -c N each thread drives one connection.
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("client_index", counter)
end

-- The platform's endpoint, or the plain-Django control's (BENCH_POSTS_PATH=/bench/control/posts/).
function posts_path()
  return os.getenv("BENCH_POSTS_PATH") or "/api/posts/"
end

function load_client()
  local lines = {}
  for line in io.lines(os.getenv("BENCH_CLIENTS_FILE")) do
    table.insert(lines, line)
  end
  -- Each client votes on one post through the API and on another through the control: the
  -- control writes vote rows without events, and a platform vote on such a row would find
  -- its stream at another version than the row says (409 after its retries).
  local token, post, control_post = lines[client_index]:match("(%S+) (%S+) (%S+)")
  wrk.headers["Authorization"] = "Token " .. token
  wrk.headers["Content-Type"] = "application/json"
  if os.getenv("BENCH_POSTS_PATH") and os.getenv("BENCH_POSTS_PATH") ~= "/api/posts/" then
    return control_post
  end
  return post
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "status_errors": %d, "socket_errors": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
