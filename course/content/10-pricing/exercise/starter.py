REQUEST_PRICE = 0.20 / 1_000_000  # dollars per request
GB_SECOND_PRICE = {"x86_64": 0.0000166667, "arm64": 0.0000133334}  # dollars, first tier


def lambda_handler(event, context):
    requests = event["requestsPerMonth"]
    # Your code here: GB-seconds, the free tier, the architecture's rate, costs rounded to cents.
    gb_seconds = requests * event["memoryMb"] * event["avgBilledMs"]
    request_cost = requests * REQUEST_PRICE
    duration_cost = gb_seconds * GB_SECOND_PRICE["x86_64"]
    return {
        "gbSeconds": gb_seconds,
        "requestCost": request_cost,
        "durationCost": duration_cost,
        "totalCost": request_cost + duration_cost,
    }
