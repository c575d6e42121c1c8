REQUEST_PRICE = 0.20 / 1_000_000  # dollars per request
GB_SECOND_PRICE = {"x86_64": 0.0000166667, "arm64": 0.0000133334}  # dollars, first tier
FREE_REQUESTS = 1_000_000
FREE_GB_SECONDS = 400_000


def lambda_handler(event, context):
    requests = event["requestsPerMonth"]
    gb_seconds = requests * (event["memoryMb"] / 1024) * (event["avgBilledMs"] / 1000)
    free_requests, free_gb_seconds = (FREE_REQUESTS, FREE_GB_SECONDS) if event["freeTier"] else (0, 0)
    request_cost = max(0, requests - free_requests) * REQUEST_PRICE
    duration_cost = max(0, gb_seconds - free_gb_seconds) * GB_SECOND_PRICE[event["architecture"]]
    return {
        "gbSeconds": gb_seconds,
        "requestCost": round(request_cost, 2),
        "durationCost": round(duration_cost, 2),
        "totalCost": round(request_cost + duration_cost, 2),
    }
