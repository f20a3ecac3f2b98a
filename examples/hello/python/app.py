"""HelloPython: the hello example's function in Python, as it would run on AWS
Lambda's python3.12 runtime."""

import os
import platform


def handler(event, context):
    name = (event or {}).get("name") or "world"
    print("greeting " + name)
    return {
        "message": "{}, {}!".format(os.environ["GREETING"], name),
        "function": context.function_name,
        "requestId": context.aws_request_id,
        "runtime": "python " + platform.python_version(),
    }
