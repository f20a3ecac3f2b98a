def greet(who):
    return "hello {} from the shared layer".format(who)
