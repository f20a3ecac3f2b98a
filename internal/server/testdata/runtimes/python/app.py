import os

import shared


def handler(event, context):
    return shared.greet(event.get("who") or os.environ["WHO"])
