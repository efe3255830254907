"""The webhook function (placeholder until its handler is written; see README)."""


def handler(event, context):
    raise NotImplementedError("webhook: see README, unfinished")
