-- POST /api/posts/{id}/vote/ (or the control's): the value alternates, so every request records community:post_voted.
dofile(os.getenv("BENCH_WRK_DIR") .. "/clients.lua")
local sent = 0
local path

function init(args)
  path = posts_path() .. load_client() .. "/vote/"
end

function request()
  sent = sent + 1
  local value = (sent % 2 == 1) and 1 or -1
  return wrk.format("POST", path, nil, string.format('{"value": %d}', value))
end
