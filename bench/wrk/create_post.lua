-- POST /api/posts/ (or the control's path, see clients.lua): every request records community:post_created.
dofile(os.getenv("BENCH_WRK_DIR") .. "/clients.lua")
local sent = 0

function init(args)
  load_client()
end

function request()
  sent = sent + 1
  local body = string.format(
    '{"title": "Benchmark post %d", "body": "A post of ordinary length, written by a load generator to measure the API, number %d."}',
    sent, sent)
  return wrk.format("POST", posts_path(), nil, body)
end
