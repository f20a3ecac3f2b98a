import platform


def handler(event, context):
    return platform.python_version()
