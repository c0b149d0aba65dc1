def double(s):
    return s + s


def fail(what):
    raise ValueError("failing on purpose: " + what)
