-- Places orders of 1 unit for one user, spread round-robin over the bench's fresh products, each
-- thread starting at its own product so concurrent orders rarely wait on the same stock row.
-- Arguments (after wrk's `--`): user id, then product ids separated by commas.

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "count.lua")

function init(args)
  orders = {}
  for product_id in args[2]:gmatch("%d+") do
    table.insert(orders, wrk.format("POST", "/api/orders", {["Content-Type"] = "application/json"},
      string.format('{"user_id": %d, "items": [{"product_id": %d, "quantity": 1}]}', args[1], product_id)))
  end
  sent = index or 0
end

function request()
  sent = sent + 1
  return orders[sent % #orders + 1]
end
