"""The notifier function (placeholder until its handler is written; see README)."""


def handler(event, context):
    raise NotImplementedError("notifier: see README, unfinished")
